"""IAM, enforced in the moto tests: every AWS call a function makes is checked against the
policy the Pulumi program renders for its role (tests/aws/conftest.py says how to use it)."""
