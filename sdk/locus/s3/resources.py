"""S3Resource: the settings of an S3 client, as Dagster's
``dagster_aws.s3.S3Resource`` has them; ``get_client()`` builds the boto3 client."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from locus.definitions.configurable import ConfigurableResource
from locus.definitions.errors import LocusError


class S3Resource(ConfigurableResource):
    """An S3 client's settings. Unset credentials come from boto3's usual
    chain: environment variables, the shared config files, the pod's role."""

    endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint, e.g. http://minio:9000. Default: AWS."
    )
    region_name: str | None = Field(default=None, description="e.g. eu-west-1.")
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    profile_name: str | None = Field(default=None, description="A profile of the shared AWS config files.")
    use_ssl: bool = True
    verify: bool | str | None = Field(
        default=None, description="false skips TLS verification; a path names a CA bundle. Default: verify."
    )
    max_attempts: int = Field(default=5, ge=1, description="Attempts per request, retries included.")
    use_unsigned_session: bool = Field(default=False, description="Anonymous requests (public buckets).")

    def describe_endpoint(self) -> str:
        """The endpoint for messages: the URL, or AWS and the region."""
        if self.endpoint_url:
            return str(self.endpoint_url)
        return f"AWS S3 ({self.region_name})" if self.region_name else "AWS S3"

    def get_client(self) -> Any:
        """A boto3 S3 client. EnvVar fields are read from the environment now
        (when a run builds the resource they are already resolved)."""
        settings = self.with_resolved_env(type(self).__name__) if self.env_var_fields() else self
        assert isinstance(settings, S3Resource)
        return settings._make_client()

    def _make_client(self) -> Any:
        try:
            import boto3
            from botocore import UNSIGNED
            from botocore.config import Config as BotoConfig
        except ImportError:
            raise LocusError(
                "locus.s3 needs boto3, which is not installed", "install the extra: pip install 'locus[s3]'"
            ) from None
        session = boto3.session.Session(
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            aws_session_token=self.aws_session_token,
            region_name=self.region_name,
            profile_name=self.profile_name,
        )
        config_args: dict[str, Any] = {"retries": {"max_attempts": self.max_attempts, "mode": "standard"}}
        if self.use_unsigned_session:
            config_args["signature_version"] = UNSIGNED
        client_args: dict[str, Any] = {"use_ssl": self.use_ssl, "config": BotoConfig(**config_args)}
        if self.endpoint_url:
            client_args["endpoint_url"] = self.endpoint_url
        if self.verify is not None:
            client_args["verify"] = self.verify
        return session.client("s3", **client_args)
