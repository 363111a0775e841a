"""Attachments: uploaded files kept by id, read under the same rule as records."""
from __future__ import annotations

import base64
import hashlib
from typing import Any

from counterflow.core import access
from counterflow.core.changes import attachment_ids
from counterflow.core.clock import stamp
from counterflow.core.engine import Actor
from counterflow.core.errors import Conflict, Forbidden, Invalid, NotFound
from counterflow.core.roles import STAFF
from counterflow.security.envelope import KeyUnavailable, RecordKey, is_sealed
from counterflow.service.base import Doc, ServiceBase
from counterflow.service.messages import msg, new_id
from counterflow.store import AttachmentStore


class AttachmentActions(ServiceBase):
    """Uploading and reading attachments."""

    def upload(self, actor: Actor, name: str, content_type: str, content: bytes, lang: str) -> Doc:
        """Keep an uploaded file; the form field then holds its `att_<ULID>` id."""
        self.require(actor, {"clerk", "reviewer"}, lang)
        if not content:
            raise Invalid({"zh-CN": "上传的文件是空的", "en": "The uploaded file is empty"}[lang], code="empty_file",
                          details=[{"path": "/file", "code": "required", "message": "empty"}])
        safe_name = _safe_filename(name)
        attachment_id = "att_" + new_id()
        # its own data key until a record holds it; then the key is kept under the record's key, and this
        # master-wrapped copy is removed (hold_attachments): destroying the record's key shreds the file
        # the file's name and digest are sealed under that key as well (they tell what the applicant brought)
        key, wrapped = self.keyring.new_key(attachment_id)
        digest = hashlib.sha256(content).hexdigest()
        meta = {"_id": attachment_id, "name": key.seal(safe_name, NAME_PLACE),
                "content_type": _safe_type(content_type), "size": len(content),
                "sha256": key.seal(digest, DIGEST_PLACE), "uploaded_by": actor.id,
                "department": actor.department, "created_at": stamp(), "sealed": True, "data_key": wrapped,
                "key_id": self.keyring.current}
        stored = AttachmentStore(self.store).put(meta, key.seal_bytes(content, FILE_PLACE))
        return dict(stored, name=safe_name, sha256=digest)

    def attachment(self, actor: Actor, attachment_id: str, lang: str) -> tuple[Doc, bytes]:
        self.require(actor, STAFF, lang)
        files = AttachmentStore(self.store)
        meta = (files.meta(attachment_id) if isinstance(attachment_id, str) and len(attachment_id) < 64
                else None)
        if meta is None:
            raise NotFound({"zh-CN": "附件不存在", "en": "No such attachment"}[lang], code="attachment_not_found")
        if attachment_id not in self._readable(actor, [meta]):      # the rule of the records that hold it
            raise Forbidden(msg("record_access", lang), code="record_access")
        content = files.content(attachment_id)
        if not meta.get("sealed"):                                  # uploaded before files were sealed
            return meta, content
        try:
            key = self.attachment_key(meta)
            return opened_meta(meta, key), key.open_bytes(content, FILE_PLACE)
        except (KeyUnavailable, ValueError):
            raise Conflict({"zh-CN": "附件内容无法解密（其密钥已销毁或主密钥未配置）",
                            "en": "The attachment cannot be decrypted (its key was destroyed, or its master "
                                  "key is not configured)"}[lang], code="attachment_unreadable") from None

    def attachment_key(self, meta: Doc) -> RecordKey:
        """An attachment's data key: wrapped by the master key while no record holds it, then kept sealed
        under the key of each record that holds it (`attachment_keys` on the record)."""
        if meta.get("data_key"):
            return self.keyring.key(meta["_id"], meta["data_key"])
        for record_id in sorted(meta.get("records") or {}):
            try:
                record = self.store.record(record_id)
                held = (record.get("attachment_keys") or {}).get(meta["_id"])
                if held:
                    record_key = self.keyring.key(record_id, record.get("data_key"))
                    raw = record_key.open(held, key_place(meta["_id"]))
                    return RecordKey(meta["_id"], base64.b64decode(raw))
            except (NotFound, KeyUnavailable, ValueError):
                continue
        raise KeyUnavailable("no record that holds the attachment has its key")

    def _readable(self, actor: Actor, metas: list[Doc]) -> set[str]:
        """The ids of those attachments the actor may read: all their holding records in one `_id` query."""
        held = sorted({r for m in metas for r in (m.get("records") or {})})
        records = {r["_id"]: r for r in self.store.list_records({"_id": {"$in": held}}, len(held), None)} \
            if held else {}
        return {m["_id"] for m in metas
                if access.can_read_attachment(actor, m, [records[r] for r in (m.get("records") or {})
                                                         if r in records])}

    def attachment_problems(self, actor: Actor, data: Any, lang: str, known: Any = None,
                            ids: list[tuple[str, str]] | None = None,
                            seen: dict[str, Doc] | None = None) -> list[dict[str, str]]:
        """Attachment ids in the data that name no uploaded file, or a file the actor may not read: a record
        holds only what its author may read. Refused (naming the field) when the data is saved.

        Ids the record already held (`known`) were checked when they were saved. `ids`: the data's
        `attachment_ids` when the caller has them already. No attachment, no query; else one `$in`. `seen`
        receives the metadata read, by id (for hold_attachments)."""
        already = {v for _, v in attachment_ids(known)} if known else set()
        found = [(p, v) for p, v in (attachment_ids(data) if ids is None else ids) if v not in already]
        metas = AttachmentStore(self.store).metas(sorted({v for _, v in found})) if found else []
        if seen is not None:
            seen.update((m["_id"], m) for m in metas)
        existing = {m["_id"] for m in metas}
        readable = self._readable(actor, metas) if metas else set()
        problems = []
        for path, value in found:
            if value not in existing:
                problems.append({"path": path, "code": "attachment_missing",
                                 "message": {"zh-CN": "附件未找到，请重新上传",
                                             "en": "The attachment was not found; upload it again"}[lang]})
            elif value not in readable:
                problems.append({"path": path, "code": "attachment_forbidden", "message": {
                    "zh-CN": "无权使用此附件，请上传您自己的文件",
                    "en": "You may not use this attachment; upload your own file"}[lang]})
        return problems

    def hold_attachments(self, record_id: str, data: Any, known: Any = None,
                         ids: list[tuple[str, str]] | None = None, *, key: RecordKey | None = None,
                         metas: dict[str, Doc] | None = None) -> dict[str, str]:
        """Note on each attachment newly in the data that this record holds it (checked by
        `attachment_problems` first); its readers then follow the record. Done before the record is written:
        a record that was never written holds nothing.

        With the record's `key`: each new sealed attachment's data key, sealed under the record's key, is
        returned (the record stores them as `attachment_keys`) and the attachment's master-wrapped copy is
        removed in the same update, so the file reads only through a record that holds it."""
        already = {v for _, v in attachment_ids(known)} if known else set()
        new = sorted({v for _, v in (attachment_ids(data) if ids is None else ids)} - already)
        if not new:
            return {}
        files = AttachmentStore(self.store)
        held: dict[str, str] = {}
        if key is not None:
            for attachment_id in new:
                meta = (metas or {}).get(attachment_id) or files.meta(attachment_id)
                if meta is None or not meta.get("sealed"):
                    continue
                try:
                    raw = self.attachment_key(meta).raw
                except KeyUnavailable:
                    continue                    # unreadable already: nothing to keep under this record
                held[attachment_id] = key.seal(base64.b64encode(raw).decode(), key_place(attachment_id))
        files.hold(new, record_id, stamp(), adopted=key is not None)
        return held


FILE_PLACE = "file"             # the place (AAD) of an attachment's content under its own key
NAME_PLACE = "name"             # ... of its file name
DIGEST_PLACE = "sha256"         # ... of its SHA-256 digest


def opened_meta(meta: Doc, key: RecordKey) -> Doc:
    """An attachment's metadata with its name and digest opened (older files hold them in clear); raises
    ValueError when they do not open under `key`."""
    opened = dict(meta)
    for field, place in (("name", NAME_PLACE), ("sha256", DIGEST_PLACE)):
        if is_sealed(meta.get(field)):
            opened[field] = key.open(meta[field], place)
    return opened


def key_place(attachment_id: str) -> str:
    """Where an attachment's data key is sealed under a record's key."""
    return f"file-key/{attachment_id}"


def _safe_filename(name: str) -> str:
    """Keep only the last path part, without control characters; a file name is never a path."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if c.isprintable() and c not in '<>:"|?*').strip(" .")
    return base[:200] or "file"


def _safe_type(content_type: str) -> str:
    value = (content_type or "").split(";")[0].strip().lower()
    return value if len(value) < 100 and "/" in value else "application/octet-stream"
