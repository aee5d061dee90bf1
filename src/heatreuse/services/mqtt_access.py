"""Per-principal MQTT credentials and topic ACLs for Mosquitto (``heatreuse mqtt credentials``).

Each site gets its own principals, each with a random password
(:func:`secrets.token_urlsafe`, 256 bits) and the least access it needs below
the site's topic prefix ``PREFIX`` (default ``heatreuse/<site id>``):

=========================  ============================================================
principal                  access (Mosquitto ACL)
=========================  ============================================================
``serve-<site>``           ``topic read PREFIX/#`` (the ingest subscriber) and
                           ``topic write PREFIX/_ingest/status`` (its own availability)
``edge-<site>-<name>``     ``topic write PREFIX/#`` (an edge gateway or agent publishing
                           readings or batches); nothing to read
``twin-<site>``            ``topic write PREFIX/#`` (the twin playing the site); with
                           ``--ha-discovery`` also its Home Assistant discovery topics
=========================  ============================================================

Nothing else: no principal reads or writes another site's prefix, and
Mosquitto denies every topic an ACL does not grant (a denied PUBLISH is
dropped; a denied read is never delivered).

Files written to ``DIR``:

* ``mosquitto.passwd``: ``user:$7$<iterations>$<base64 salt>$<base64 hash>``, the
  PBKDF2-HMAC-SHA512 format of Mosquitto 2 (12-byte salt, 64-byte hash; see
  ``src/password_mosq.c`` and ``apps/mosquitto_passwd`` of eclipse/mosquitto);
  Mosquitto's ``password_file``.
* ``mosquitto.acl``: one block per site between ``# heatreuse site <id>: begin``
  and ``...: end`` comments; Mosquitto's ``acl_file``.
* ``credentials/<principal>.cred`` (mode 0600): ``username=`` and ``password=``
  lines (and what the principal may do), to pass to ``serve``/``edge``/``twin``
  with ``--mqtt-password-file`` (``--upstream-password-file``).

Several sites share one broker: running the command for another site adds its
users and its ACL block and leaves the others' untouched. Running it again for
the same site keeps the passwords of principals that still have their
credentials file, adds new edges, ``--rotate`` gives every principal of the
site a new password and ``--revoke-edge NAME`` removes an edge's user, ACL and
credentials file. Files are replaced whole (written aside, then renamed).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from heatreuse.errors import HeatreuseError
from heatreuse.locations import make_private_dirs
from heatreuse.site import Site

#: PBKDF2 iterations written with each hash. Mosquitto reads the count from the file
#: (``mosquitto_passwd`` writes 101); the passwords are 256-bit random tokens, so the
#: count only costs the broker time at each CONNECT.
PBKDF2_ITERATIONS = 1000
#: Salt length of Mosquitto's ``$7$`` hashes [bytes] (``SALT_LEN``).
SALT_BYTES = 12
#: Hash type of PBKDF2-HMAC-SHA512 in Mosquitto's password file (``pw_sha512_pbkdf2``).
HASH_TYPE = 7

PASSWD_NAME = "mosquitto.passwd"
ACL_NAME = "mosquitto.acl"
CRED_DIR = "credentials"

_EDGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}$")

Role = Literal["serve", "edge", "twin"]


def mosquitto_hash(
    password: str, *, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS
) -> str:
    """The ``$7$`` hash of a password as Mosquitto 2's password file holds it.

    ``$7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512(password, salt)>``
    with a 12-byte random salt and a 64-byte derived key (standard base64).
    """
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, 64)
    b64 = base64.b64encode
    return f"${HASH_TYPE}${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def mosquitto_hash_matches(hash_text: str, password: str) -> bool:
    """True when ``password`` matches a ``$7$`` hash of Mosquitto's password file."""
    parts = hash_text.split("$")
    if len(parts) != 5 or parts[1] != str(HASH_TYPE) or not parts[2].isdigit():
        return False
    try:
        salt = base64.b64decode(parts[3], validate=True)
        digest = base64.b64decode(parts[4], validate=True)
    except ValueError:
        return False
    got = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, int(parts[2]), 64)
    return hmac.compare_digest(got, digest)


@dataclass(frozen=True)
class Principal:
    """One MQTT user of a site.

    Attributes
    ----------
    name
        The user name (``serve-<site>``, ``edge-<site>-<name>``, ``twin-<site>``).
    role
        ``serve``, ``edge`` or ``twin``.
    acl
        ``(access, topic)`` pairs of its ACL (``read`` or ``write``).
    """

    name: str
    role: Role
    acl: tuple[tuple[str, str], ...]

    @property
    def access(self) -> str:
        """One line: what the principal may do."""
        return "; ".join(f"{a} {t}" for a, t in self.acl)


def ha_discovery_filter(site_id: str) -> str:
    """Topic filter of the twin's Home Assistant discovery configs.

    The same node id as :func:`heatreuse.telemetry.mqtt_publish.discovery_config`.
    """
    from heatreuse.telemetry.mqtt_publish import _slug

    return f"homeassistant/+/{_slug(f'heatreuse_{site_id}')}/+/config"


def site_principals(
    site_id: str, edges: Sequence[str], prefix: str, *, ha_discovery: bool = False
) -> list[Principal]:
    """The principals of a site and their ACL (see the module docstring).

    Raises
    ------
    HeatreuseError
        An edge name that is not 1-32 letters, digits, ``_``, ``.`` or ``-``,
        or given twice.
    """
    base = prefix.rstrip("/")
    out = [
        Principal(
            f"serve-{site_id}",
            "serve",
            (("read", f"{base}/#"), ("write", f"{base}/_ingest/status")),
        )
    ]
    twin_acl: tuple[tuple[str, str], ...] = (("write", f"{base}/#"),)
    if ha_discovery:
        twin_acl += (("write", ha_discovery_filter(site_id)),)
    out.append(Principal(f"twin-{site_id}", "twin", twin_acl))
    seen: set[str] = set()
    for name in edges:
        if not _EDGE_NAME.match(name):
            raise HeatreuseError(
                f"--edge {name!r}: expected 1-32 letters, digits, '_', '.' or '-' starting with "
                "a letter or digit (it becomes the MQTT user edge-<site>-<name>)"
            )
        if name in seen:
            raise HeatreuseError(f"--edge {name!r} given twice")
        seen.add(name)
        out.append(Principal(f"edge-{site_id}-{name}", "edge", (("write", f"{base}/#"),)))
    return out


def acl_block(site_id: str, prefix: str, principals: Sequence[Principal]) -> list[str]:
    """The ACL lines of one site (``user`` + ``topic`` lines between begin/end comments)."""
    lines = [f"# heatreuse site {site_id} (prefix {prefix.rstrip('/')}): begin"]
    for p in principals:
        lines.append(f"user {p.name}")
        lines.extend(f"topic {access} {topic}" for access, topic in p.acl)
        lines.append("")
    lines.append(f"# heatreuse site {site_id}: end")
    return lines


def _begin_re(site_id: str) -> re.Pattern[str]:
    return re.compile(rf"^# heatreuse site {re.escape(site_id)} \(prefix .*\): begin$")


def _split_acl(text: str, site_id: str) -> tuple[list[str], list[str], list[str]]:
    """(lines before this site's block, the block's user names, lines after it)."""
    lines = text.splitlines()
    begin = _begin_re(site_id)
    end = f"# heatreuse site {site_id}: end"
    for i, line in enumerate(lines):
        if begin.match(line):
            for j in range(i + 1, len(lines)):
                if lines[j] == end:
                    users = [ln[5:].strip() for ln in lines[i + 1 : j] if ln.startswith("user ")]
                    return lines[:i], users, lines[j + 1 :]
            raise HeatreuseError(
                f"{ACL_NAME}: the block of site {site_id} has no end line {end!r}; "
                "repair or remove the block"
            )
    return lines, [], []


def site_edges(out_dir: Path, site_id: str) -> list[str]:
    """Edge names the site already has in ``out_dir``'s ACL file (empty: none or no file)."""
    acl = Path(out_dir) / ACL_NAME
    if not acl.exists():
        return []
    _, users, _ = _split_acl(acl.read_text(encoding="utf-8"), site_id)
    head = f"edge-{site_id}-"
    return [u[len(head) :] for u in users if u.startswith(head)]


def _read_passwd(path: Path) -> list[tuple[str | None, str]]:
    """Lines of a password file as ``(user or None for other lines, line)``."""
    if not path.exists():
        return []
    out: list[tuple[str | None, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        user = line.split(":", 1)[0].strip() if ":" in line and not line.startswith("#") else None
        out.append((user, line))
    return out


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600, replacing it whole."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _read_cred_password(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("password="):
            return line[len("password=") :] or None
    return None


def _cred_text(p: Principal, site_id: str, prefix: str, password: str) -> str:
    base = prefix.rstrip("/")
    use = {
        "serve": "heatreuse serve SITE.yaml --mqtt mqtts://BROKER:8883 --mqtt-ca CA.pem "
        "--mqtt-password-file THIS_FILE",
        "twin": "heatreuse twin SITE.yaml --mqtt mqtts://BROKER:8883 --mqtt-ca CA.pem "
        "--mqtt-password-file THIS_FILE",
        "edge": f"heatreuse edge SITE.yaml --upstream mqtts://BROKER:8883/{base} "
        f"--upstream-ca CA.pem --upstream-password-file THIS_FILE (...)",
    }[p.role]
    return (
        f"# heatreuse MQTT credentials of {p.name} (site {site_id}); keep it private (mode 0600)\n"
        f"# may: {p.access}\n"
        f"# use: {use}\n"
        f"principal={p.name}\n"
        f"site={site_id}\n"
        f"topic_prefix={base}\n"
        f"username={p.name}\n"
        f"password={password}\n"
    )


@dataclass(frozen=True)
class PrincipalResult:
    """What happened to one principal.

    Attributes
    ----------
    name, role, access
        The principal (see :class:`Principal`).
    action
        ``created`` (new password), ``kept`` (password unchanged), ``rotated``
        (new password for an existing user) or ``revoked`` (removed).
    cred_file
        Its credentials file (None when revoked).
    password
        The password (for ``--show-passwords``; None when revoked).
    """

    name: str
    role: str
    access: str
    action: str
    cred_file: Path | None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class CredentialsReport:
    """What ``heatreuse mqtt credentials`` wrote."""

    site_id: str
    prefix: str
    out_dir: Path
    passwd_file: Path
    acl_file: Path
    principals: tuple[PrincipalResult, ...]


def write_credentials(
    site: Site,
    out_dir: Path,
    *,
    edges: Sequence[str] = ("gw1",),
    prefix: str | None = None,
    rotate: bool = False,
    revoke_edges: Sequence[str] = (),
    ha_discovery: bool = False,
) -> CredentialsReport:
    """Write (or update) the Mosquitto password file, ACL file and credentials files of a site.

    Parameters
    ----------
    site
        The site.
    out_dir
        The folder (created 0700 if missing) holding ``mosquitto.passwd``,
        ``mosquitto.acl`` and ``credentials/``; shared by the sites of one broker.
    edges
        Edge names (principals ``edge-<site>-<name>``), added to those the
        site already has in the folder.
    prefix
        The site's topic prefix (default ``heatreuse/<site id>``; the same as
        ``serve``/``twin`` ``--topic-prefix``).
    rotate
        New passwords for every principal of the site.
    revoke_edges
        Edge names whose user, ACL and credentials file are removed.
    ha_discovery
        Let the twin also publish its Home Assistant discovery configs.

    Raises
    ------
    HeatreuseError
        A bad edge name, an edge both added and revoked, a revoked edge that
        does not exist, an ACL file with a broken block of this site, or a
        folder that cannot be written.
    """
    from heatreuse.telemetry.mqtt import TopicLayout

    layout = TopicLayout(site.id, prefix)  # refuses wildcards in the prefix
    base = layout.base
    both = sorted(set(edges) & set(revoke_edges))
    if both:
        raise HeatreuseError(f"--edge and --revoke-edge both name {', '.join(both)}")
    out = Path(out_dir)
    passwd_path, acl_path, cred_dir = out / PASSWD_NAME, out / ACL_NAME, out / CRED_DIR
    try:
        make_private_dirs(cred_dir)
        passwd = _read_passwd(passwd_path)
        acl_text = acl_path.read_text(encoding="utf-8") if acl_path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise HeatreuseError(f"--out {out}: cannot read or create it ({exc})") from None
    before, old_users, after = _split_acl(acl_text, site.id)
    edge_head = f"edge-{site.id}-"
    known_edges = [u[len(edge_head) :] for u in old_users if u.startswith(edge_head)]
    missing = [e for e in revoke_edges if e not in known_edges]
    if missing:
        raise HeatreuseError(
            f"--revoke-edge {', '.join(missing)}: no such edge of site {site.id} in {acl_path} "
            f"(edges: {', '.join(known_edges) or 'none'})"
        )
    wanted = [e for e in known_edges if e not in revoke_edges]
    wanted += [e for e in edges if e not in wanted]
    principals = site_principals(site.id, wanted, base, ha_discovery=ha_discovery)
    hashes = {u: line for u, line in passwd if u is not None}
    results: list[PrincipalResult] = []
    new_lines: dict[str, str] = {}
    for p in principals:
        cred = cred_dir / f"{p.name}.cred"
        password = None if rotate or p.name not in hashes else _read_cred_password(cred)
        if password is not None and not mosquitto_hash_matches(
            hashes[p.name].split(":", 1)[1].strip(), password
        ):
            password = None  # the credentials file does not match the broker's hash
        action = "kept"
        if password is None:
            action = "rotated" if p.name in hashes else "created"
            password = secrets.token_urlsafe(32)
            new_lines[p.name] = f"{p.name}:{mosquitto_hash(password)}"
        _write_private(cred, _cred_text(p, site.id, base, password))
        results.append(PrincipalResult(p.name, p.role, p.access, action, cred, password))
    revoked = {f"{edge_head}{e}" for e in revoke_edges}
    for name in sorted(revoked):
        (cred_dir / f"{name}.cred").unlink(missing_ok=True)
        results.append(PrincipalResult(name, "edge", "", "revoked", None))
    lines: list[str] = []
    for user, line in passwd:
        if user in revoked:
            continue
        lines.append(new_lines.pop(user, line) if user is not None else line)
    lines.extend(new_lines[p.name] for p in principals if p.name in new_lines)
    block = acl_block(site.id, base, principals)
    while before and not before[-1].strip():
        before.pop()
    acl_lines = [*before, *([""] if before else []), *block, *after]
    try:
        _write_private(passwd_path, "\n".join(lines) + "\n")
        _write_private(acl_path, "\n".join(acl_lines).rstrip("\n") + "\n")
    except OSError as exc:
        raise HeatreuseError(f"--out {out}: cannot write ({exc})") from None
    return CredentialsReport(
        site_id=site.id,
        prefix=base,
        out_dir=out,
        passwd_file=passwd_path,
        acl_file=acl_path,
        principals=tuple(results),
    )
