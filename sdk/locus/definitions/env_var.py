"""EnvVar: a configuration value read from the environment when a run
starts, so secrets never sit in code or in stored snapshots."""

from __future__ import annotations

import os

from locus.definitions.errors import LocusError


class EnvVar(str):
    """``EnvVar("BUCKET")`` stands for the value of $BUCKET at run time."""

    __slots__ = ()

    @property
    def env_var_name(self) -> str:
        return str.__str__(self)

    def get_value(self, default: str | None = None) -> str | None:
        return os.environ.get(self.env_var_name, default)

    def resolve(self, where: str) -> str:
        value = os.environ.get(self.env_var_name)
        if value is None:
            raise LocusError(
                f"{where} reads the environment variable {self.env_var_name}, which is not set",
                f"export {self.env_var_name}=... in the environment that runs this code",
            )
        return value

    def __repr__(self) -> str:
        return f"EnvVar({self.env_var_name!r})"
