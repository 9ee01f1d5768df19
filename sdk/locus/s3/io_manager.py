"""S3PickleIOManager: each output pickled to an object, as Dagster's
``dagster_aws.s3.S3PickleIOManager`` lays them out: an asset at
``<prefix>/<asset key path>``, an op output at
``<prefix>/storage/<run_id>/<step_key>/<output name>``. Steps in other
processes or pods load their inputs from the same objects."""

from __future__ import annotations

import pickle
from typing import Any, NoReturn

from pydantic import Field, PrivateAttr

from locus.definitions.asset_key import AssetKey
from locus.definitions.configurable import ConfigurableIOManager
from locus.definitions.env_var import EnvVar
from locus.definitions.io_managers import InputContext, OutputContext
from locus.s3.errors import S3Error, explain
from locus.s3.resources import S3Resource


class S3PickleIOManager(ConfigurableIOManager):
    """Pickles step outputs to ``s3://<s3_bucket>/<s3_prefix>/...``."""

    s3_resource: S3Resource = Field(description="The S3 client settings.")
    s3_bucket: str = Field(description="The bucket; it must exist.")
    s3_prefix: str = Field(default="locus", description="Key prefix of every stored output.")

    _client: Any = PrivateAttr(default=None)
    _resolved: S3PickleIOManager | None = PrivateAttr(default=None)

    def configured(self, config: dict[str, Any]) -> S3PickleIOManager:
        # Keeps the S3Resource object itself (and so its EnvVar fields)
        # unless run config replaces it; a dump and reload would turn its
        # EnvVar("NAME") fields into the literal string NAME.
        fields: dict[str, Any] = {name: getattr(self, name) for name in type(self).model_fields}
        fields.update({name: EnvVar(var) for name, var in self.env_var_fields().items()})
        return type(self)(**{**fields, **config})

    def key_for(self, context: OutputContext) -> str:
        """The object key of an output (of the asset, when it has a key)."""
        if context.asset_key is not None:
            parts = context.get_asset_identifier()
        else:
            parts = ["storage", *context.get_identifier()]
        prefix = self.s3_prefix.strip("/")
        return "/".join([prefix, *parts] if prefix else parts)

    def uri_for(self, context: OutputContext) -> str:
        return f"s3://{self._live().s3_bucket}/{self.key_for(context)}"

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        live = self._live()
        key = self.key_for(context)
        body = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            live._s3().put_object(Bucket=live.s3_bucket, Key=key, Body=body)
        except Exception as exc:
            live._raise(exc, key, f"storing output '{context.name}' of {context.step_key}")

    def load_input(self, context: InputContext) -> Any:
        live = self._live()
        upstream = context.upstream_output
        if context.asset_key is not None:
            upstream = OutputContext(
                name=upstream.name, step_key=upstream.step_key, run_id=upstream.run_id, asset_key=context.asset_key
            )
        key = self.key_for(upstream)
        try:
            body = live._s3().get_object(Bucket=live.s3_bucket, Key=key)["Body"].read()
        except Exception as exc:
            live._raise(exc, key, f"loading input '{context.name}'", asset_key=context.asset_key)
        return pickle.loads(body)

    def _live(self) -> S3PickleIOManager:
        """Itself with EnvVar fields read from the environment. In a run they
        already are; called directly (tests, notebooks) they are read here."""
        if not (self.env_var_fields() or self.s3_resource.env_var_fields()):
            return self
        if self._resolved is None:
            resolved = self.with_resolved_env(type(self).__name__)
            assert isinstance(resolved, S3PickleIOManager)
            self._resolved = resolved
        return self._resolved

    def _s3(self) -> Any:
        if self._client is None:
            self._client = self.s3_resource.get_client()
        return self._client

    def _raise(self, exc: Exception, key: str, doing: str, asset_key: AssetKey | None = None) -> NoReturn:
        endpoint = self.s3_resource.describe_endpoint()
        explained = explain(exc, self.s3_bucket, endpoint, key, setting=f"s3_bucket of {type(self).__name__}")
        if explained is None:
            raise exc
        if explained.missing_key:
            what = f"asset {asset_key.to_user_string()}" if asset_key is not None else "the upstream output"
            raise S3Error(
                f"{doing}: {what} has not been materialised yet: no object s3://{self.s3_bucket}/{key} at {endpoint}",
                "materialise it first, or include it in the selection",
            ) from None
        raise S3Error(f"{doing}: {explained.message}", explained.hint) from None
