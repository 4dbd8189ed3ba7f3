"""The Pulumi program that stands skybinder up in an AWS account (`pulumi up` at the root)."""
