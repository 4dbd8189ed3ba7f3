"""Adapters for AWS: boto3 clients come in through constructors and function arguments."""
