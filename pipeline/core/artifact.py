"""A DVC-tracked file's bytes by md5 alone (the content address dvc.lock pins): from the local DVC
cache, else from the default DVC remote; checked against the md5 before anyone loads them. Used for
the champion (models/champion.json), which names its model by md5, never by the work tree's file."""

from __future__ import annotations

import hashlib

from pipeline.errors import PipelineError, one_line


def fetch_md5(md5: str, label: str) -> bytes:
    """The bytes whose md5 is `md5`, or one PipelineError line naming it and every place tried."""
    tried: list[str] = []
    try:
        from dvc.repo import Repo

        repo = Repo(".")
    except Exception as exc:
        raise PipelineError(f"{label}: md5 {md5}: cannot be fetched (not a DVC repository here: "
                            f"{one_line(exc)})") from None
    with repo:
        cache = repo.cache.local
        path = cache.oid_to_path(md5)
        data = _read(cache.fs, path, md5, f"the local DVC cache ({path})", tried)
        if data is not None:
            return data
        name = repo.config["core"].get("remote")
        if not name:
            tried.append("no default DVC remote (none is configured)")
        else:
            where = f"the DVC remote '{name}' ({(repo.config['remote'].get(name) or {}).get('url')})"
            try:
                odb = repo.cloud.get_remote_odb(name, "warm start")
                data = _read(odb.fs, odb.oid_to_path(md5), md5, where, tried)
            except Exception as exc:
                tried.append(f"{where}: {one_line(exc)}")
            if data is not None:
                _keep(cache, path, data)
                return data
    raise PipelineError(f"{label}: md5 {md5}: no file with these bytes; tried {'; '.join(tried)}")


def _read(fs, path: str, md5: str, where: str, tried: list[str]) -> bytes | None:
    """The bytes at `path` when they exist and hash to `md5`; otherwise say why in `tried`."""
    if not fs.exists(path):
        tried.append(f"{where}: absent")
        return None
    data = fs.cat_file(path)
    got = hashlib.md5(data).hexdigest()
    if got != md5:
        tried.append(f"{where}: holds bytes of md5 {got} (corrupt)")
        return None
    return data


def _keep(cache, path: str, data: bytes) -> None:
    """Store fetched bytes in the local cache, as `dvc fetch` would (best effort: a read-only cache
    only costs the next run a download)."""
    import contextlib

    with contextlib.suppress(Exception):
        cache.fs.makedirs(cache.fs.parent(path), exist_ok=True)
        cache.fs.pipe_file(path, data)
