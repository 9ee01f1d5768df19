"""botocore's exceptions turned into messages that name the bucket, the
key and the endpoint, with the fix."""

from __future__ import annotations

from dataclasses import dataclass

from locus.definitions.errors import LocusError


class S3Error(LocusError):
    """An S3 call failed for a reason the user can fix (bucket, key,
    endpoint or credentials)."""


@dataclass(frozen=True)
class Explained:
    message: str
    hint: str
    missing_key: bool = False


_NO_BUCKET = {"NoSuchBucket"}
_NO_KEY = {"NoSuchKey", "404", "NotFound"}
_DENIED = {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden"}


def explain(
    exc: BaseException, bucket: str, endpoint: str, key: str | None = None, setting: str = "the bucket setting"
) -> Explained | None:
    """What went wrong, or ``None`` when ``exc`` is no botocore error we know.
    ``setting`` names where the bucket is configured, for the hint."""
    try:
        from botocore import exceptions as boto_errors
    except ImportError:  # pragma: no cover - without boto3 no client could have raised
        return None
    where = f"at {endpoint}"
    if isinstance(exc, boto_errors.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _NO_BUCKET or (code in _NO_KEY and key is None):
            return Explained(
                f"S3 bucket '{bucket}' does not exist {where}",
                f"create the bucket (e.g. `aws s3 mb s3://{bucket} --endpoint-url {endpoint}`), "
                f"or set {setting} to one that exists",
            )
        if code in _NO_KEY:
            return Explained(f"no object s3://{bucket}/{key} {where}", "write it first", missing_key=True)
        if code in _DENIED:
            return Explained(
                f"S3 denied access to bucket '{bucket}' {where} ({code})",
                "check the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the profile, or the pod's role) "
                "and the bucket's policy",
            )
        return Explained(f"S3 request for bucket '{bucket}' {where} failed: {exc}", "see the S3 error code above")
    if isinstance(exc, boto_errors.EndpointConnectionError | boto_errors.ConnectTimeoutError):
        return Explained(
            f"cannot reach the S3 endpoint {endpoint} (bucket '{bucket}'): {exc}",
            "check endpoint_url and that the S3 service is running and reachable",
        )
    if isinstance(exc, boto_errors.NoCredentialsError | boto_errors.PartialCredentialsError):
        return Explained(
            f"no AWS credentials for bucket '{bucket}' {where}",
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, or the resource's credential fields",
        )
    if isinstance(exc, boto_errors.BotoCoreError):
        return Explained(f"S3 request for bucket '{bucket}' {where} failed: {exc}", "check the S3 settings")
    return None
