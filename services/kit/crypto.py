"""Secrets at rest (mailbox passwords): Fernet tokens under a key ring from settings.

The first key encrypts; every key decrypts, so a new key is added in front, the
stored secrets are re-encrypted (:meth:`SecretBox.rotate`), and the old key is then
dropped from the settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

# Local development only: `SECRET_KEYS` must be set in any real deployment.
DEV_SECRET_KEY = "bG9jYWwtZGV2ZWxvcG1lbnQta2V5LWRvLW5vdC11c2U="  # noqa: S105 - dev only


class SecretUnreadable(Exception):
    """No configured key decrypts this secret (a key was dropped too early)."""


@dataclass
class SecretBox:
    keys: list[str]
    _fernet: MultiFernet = field(init=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("at least one secret key is needed")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in self.keys])

    @classmethod
    def from_setting(cls, value: str) -> SecretBox:
        """Keys from a comma-separated setting, the encrypting key first."""
        return cls([k.strip() for k in value.split(",") if k.strip()])

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretUnreadable("no configured key decrypts this secret") from exc

    def rotate(self, token: str) -> str:
        """The same secret, encrypted under the first key."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretUnreadable("no configured key decrypts this secret") from exc

    @staticmethod
    def new_key() -> str:
        return Fernet.generate_key().decode()
