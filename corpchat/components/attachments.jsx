// Attaching files (📎, drag-and-drop, paste) and showing them in bubbles.
// Files go to POST /api/upload as a raw streamed body through XMLHttpRequest, the one browser
// API that reports upload progress; Python then gets only the uploaded file ids (onSend).
import { useEffect, useRef, useState } from "react";
import { clientId, discardUpload, uploadFile } from "../upload_bridge/upload.js";

export { clientId, discardUpload, uploadFile };

export function errorText(labels, code) {
  return (labels && (labels["file.err_" + code] || labels["file.failed"])) || code;
}

export function formatSize(n, labels) {
  const units = ["size.b", "size.kb", "size.mb", "size.gb"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  const number = i === 0 || n >= 100 ? String(Math.round(n)) : n.toFixed(1).replace(/\.0$/, "");
  const unit = (labels && labels[units[i]]) || units[i].slice(5).toUpperCase();
  return (unit === "B" || unit === "KB" || unit === "MB" || unit === "GB" ? number : number.replace(".", ",")) + " " + unit;
}

const MAX_FILES = 10;
let nextKey = 1;

export function Attacher({ onSend, labels, dropTarget, maxBytes, room }) {
  const [items, setItems] = useState([]);
  const [caption, setCaption] = useState("");
  const [dragging, setDragging] = useState(false);
  const input = useRef(null);
  const uploads = useRef({});
  const L = (k) => (labels && labels[k]) || k;

  const update = (key, change) => setItems((list) => list.map((it) => (it.key === key ? { ...it, ...change } : it)));

  const start = (key, file) => {
    if (maxBytes && file.size > maxBytes) {
      update(key, { status: "error", error: "file_too_large" });
      return;
    }
    update(key, { status: "uploading", progress: 0, error: "" });
    const up = uploadFile(file, file.name, (p) => update(key, { progress: p }));
    uploads.current[key] = up;
    up.promise.then(
      (body) => update(key, { status: "done", progress: 1, fileId: body.file_id }),
      (err) => { if (err.message !== "aborted") update(key, { status: "error", error: err.message }); },
    ).finally(() => { delete uploads.current[key]; });
  };

  const add = (files) => {
    const picked = Array.from(files || []).slice(0, MAX_FILES);
    if (!picked.length) return;
    const fresh = picked.map((file) => ({
      key: nextKey++, file, name: file.name || "file", size: file.size, progress: 0, status: "uploading",
      error: "", fileId: null, preview: file.type.startsWith("image/") ? URL.createObjectURL(file) : null,
    }));
    setItems((list) => [...list, ...fresh].slice(0, MAX_FILES));
    fresh.forEach((it) => start(it.key, it.file));
  };

  const remove = (it) => {
    if (uploads.current[it.key]) uploads.current[it.key].abort();
    discardUpload(it.fileId);
    if (it.preview) URL.revokeObjectURL(it.preview);
    setItems((list) => list.filter((x) => x.key !== it.key));
  };

  const clear = (discard) => {
    items.forEach((it) => {
      if (uploads.current[it.key]) uploads.current[it.key].abort();
      if (discard) discardUpload(it.fileId);
      if (it.preview) URL.revokeObjectURL(it.preview);
    });
    setItems([]);
    setCaption("");
  };

  const send = () => {
    const ready = items.filter((it) => it.status === "done");
    if (!ready.length || ready.length !== items.length) return;
    onSend(ready.map((it) => ({ file_id: it.fileId, kind: "file", client_id: clientId() })), caption);
    clear(false);
  };

  // Files are attached to the chat they were picked in: another chat starts with none.
  const itemsRef = useRef(items);
  itemsRef.current = items;
  useEffect(() => () => {
    itemsRef.current.forEach((it) => {
      if (uploads.current[it.key]) uploads.current[it.key].abort();
      discardUpload(it.fileId);
    });
    setItems([]);
    setCaption("");
  }, [room]);

  // Drag-and-drop onto the chat, and pasting files (screenshots) into it.
  useEffect(() => {
    const target = dropTarget && document.getElementById(dropTarget);
    if (!target) return undefined;
    const hasFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types || []).includes("Files");
    const over = (e) => { if (hasFiles(e)) { e.preventDefault(); setDragging(true); } };
    const leave = (e) => { if (!target.contains(e.relatedTarget)) setDragging(false); };
    const drop = (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      setDragging(false);
      add(e.dataTransfer.files);
    };
    const paste = (e) => {
      const files = e.clipboardData && e.clipboardData.files;
      if (files && files.length) { e.preventDefault(); add(files); }
    };
    target.addEventListener("dragover", over);
    target.addEventListener("dragleave", leave);
    target.addEventListener("drop", drop);
    target.addEventListener("paste", paste);
    return () => {
      target.removeEventListener("dragover", over);
      target.removeEventListener("dragleave", leave);
      target.removeEventListener("drop", drop);
      target.removeEventListener("paste", paste);
    };
  }, [dropTarget, maxBytes]);

  const allDone = items.length > 0 && items.every((it) => it.status === "done");
  return (
    <div style={{ position: "relative", display: "flex" }}>
      <button type="button" id="attach-button" className="rt-reset rt-BaseButton rt-IconButton rt-r-size-2 rt-variant-ghost"
        aria-label={L("file.attach")} title={L("file.attach")} onClick={() => input.current && input.current.click()}
        style={{ fontSize: 18 }}>📎</button>
      <input ref={input} type="file" multiple id="attach-input" style={{ display: "none" }}
        onChange={(e) => { add(e.target.files); e.target.value = ""; }} />
      {dragging && (
        <div className="drop-overlay" style={{ position: "fixed", inset: 0, zIndex: 50, pointerEvents: "none",
          display: "flex", alignItems: "center", justifyContent: "center", background: "var(--accent-a4)",
          border: "3px dashed var(--accent-9)", fontSize: 20 }}>{L("file.drop_here")}</div>
      )}
      {items.length > 0 && (
        <div id="attach-panel" style={{ position: "absolute", bottom: "calc(100% + 10px)", left: 0, zIndex: 20,
          width: "min(440px, calc(100vw - 24px))", background: "var(--color-panel-solid)", borderRadius: 12,
          boxShadow: "var(--shadow-5)", padding: 10, display: "flex", flexDirection: "column", gap: 8 }}>
          {items.map((it) => (
            <div key={it.key} className="attach-item" data-status={it.status}
              style={{ display: "flex", gap: 8, alignItems: "center" }}>
              {it.preview
                ? <img src={it.preview} alt="" style={{ width: 44, height: 44, objectFit: "cover", borderRadius: 6 }} />
                : <div style={{ width: 44, height: 44, fontSize: 26, textAlign: "center", lineHeight: "44px" }}>📄</div>}
              <div style={{ flex: 1, minWidth: 0 }}>
                <div className="attach-name" style={{ overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap",
                  fontSize: 14 }}>{it.name}</div>
                <div style={{ fontSize: 12, color: "var(--gray-11)" }}>
                  {formatSize(it.size, labels)}
                  {it.status === "uploading" && " · " + Math.round(it.progress * 100) + "%"}
                  {it.status === "error" && <span className="attach-error" style={{ color: "var(--red-11)" }}>
                    {" · " + errorText(labels, it.error)}</span>}
                </div>
                {it.status !== "error" && (
                  <div style={{ height: 4, background: "var(--gray-a4)", borderRadius: 2, marginTop: 4 }}>
                    <div className="attach-progress" data-progress={it.progress}
                      style={{ height: 4, borderRadius: 2, background: "var(--accent-9)", width: (it.progress * 100) + "%",
                        transition: "width 0.15s" }} />
                  </div>
                )}
              </div>
              {it.status === "error" && it.error !== "file_too_large" && (
                <button type="button" className="attach-retry rt-reset rt-BaseButton rt-Button rt-r-size-1 rt-variant-soft"
                  onClick={() => start(it.key, it.file)}>{L("file.retry")}</button>
              )}
              <button type="button" className="attach-remove rt-reset rt-BaseButton rt-IconButton rt-r-size-1 rt-variant-ghost"
                aria-label={L("file.remove")} title={L("file.remove")} onClick={() => remove(it)}>✕</button>
            </div>
          ))}
          <input id="attach-caption" value={caption} maxLength={10000} placeholder={L("file.caption")}
            onChange={(e) => setCaption(e.target.value)}
            onKeyDown={(e) => { if (e.key === "Enter") { e.preventDefault(); send(); } }}
            style={{ padding: "6px 8px", borderRadius: 6, border: "1px solid var(--gray-a7)", background: "transparent",
              color: "inherit", fontSize: 14 }} />
          <div style={{ display: "flex", justifyContent: "flex-end", gap: 8 }}>
            <button type="button" id="attach-cancel" className="rt-reset rt-BaseButton rt-Button rt-r-size-2 rt-variant-soft"
              onClick={() => clear(true)}>{L("file.cancel")}</button>
            <button type="button" id="attach-send" className="rt-reset rt-BaseButton rt-Button rt-r-size-2 rt-variant-solid"
              disabled={!allDone} onClick={send}>{L("file.send")}</button>
          </div>
        </div>
      )}
    </div>
  );
}

// Bubbles ask for their own signed URLs (see state/chat/attachments.py); the ids that mount
// together go in one request.
const wanted = new Set();
let flush = null;

function need(fileId, onNeed) {
  if (!onNeed) return;
  wanted.add(fileId);
  if (flush) return;
  flush = setTimeout(() => {
    const ids = Array.from(wanted).slice(0, 64);
    ids.forEach((id) => wanted.delete(id));
    flush = null;
    onNeed(ids);
  }, 0);
}

// The server states the length in the file's header (services/files.py remuxes recordings),
// so the browser's own player shows it and can seek.
function VoicePlayer({ url, file }) {
  return (
    <div className="voice-player" style={{ display: "flex", alignItems: "center", gap: 8, minWidth: 240 }}>
      {url ? <audio src={url} controls preload="metadata" className="voice-audio" style={{ height: 36, flex: 1 }} />
        : <div style={{ height: 36, flex: 1, borderRadius: 18, background: "var(--gray-a4)" }} />}
      <span style={{ fontSize: 12, color: "var(--gray-11)", fontVariantNumeric: "tabular-nums" }}>{file.duration}</span>
    </div>
  );
}

function Circle({ url, thumbUrl, file, onError }) {
  const video = useRef(null);
  const [playing, setPlaying] = useState(false);
  return (
    <div style={{ position: "relative", width: 220, height: 220 }}>
      {url ? (
        <video ref={video} src={url} poster={thumbUrl || undefined} playsInline preload="metadata"
          className="circle-video" onError={onError}
          onClick={() => { const v = video.current; if (v.paused) v.play(); else v.pause(); }}
          onPlay={() => setPlaying(true)} onPause={() => setPlaying(false)} onEnded={() => setPlaying(false)}
          style={{ width: 220, height: 220, borderRadius: "50%", objectFit: "cover", background: "var(--gray-a4)",
            cursor: "pointer", display: "block" }} />
      ) : <div style={{ width: 220, height: 220, borderRadius: "50%", background: "var(--gray-a4)" }} />}
      <span style={{ position: "absolute", left: 12, bottom: 12, fontSize: 12, padding: "1px 6px", borderRadius: 8,
        background: "rgba(0,0,0,0.5)", color: "white", pointerEvents: "none" }}>{playing ? "❚❚" : "▶"} {file.duration}</span>
    </div>
  );
}

export function FileView({ kind, file, url, thumbUrl, onNeed, labels }) {
  const retried = useRef(false);
  useEffect(() => { if (file && !url) need(file.id, onNeed); }, [file && file.id, url]);
  if (!file) return null;
  // A URL that stopped working (expired in a tab left open): ask once for a fresh one.
  const failed = () => { if (!retried.current) { retried.current = true; need(file.id, onNeed); } };
  const L = (k) => (labels && labels[k]) || k;
  if (kind === "voice") return <VoicePlayer url={url} file={file} />;
  if (kind === "video") return <Circle url={url} thumbUrl={thumbUrl} file={file} onError={failed} />;
  if (file.kind === "image" && file.thumb) {
    const w = Math.min(280, file.width || 280);
    const h = file.width ? Math.round((w * file.height) / file.width) : 200;
    return (
      <a href={url || undefined} target="_blank" rel="noopener noreferrer" className="file-image"
        style={{ display: "block", maxWidth: "100%" }}>
        {url ? <img src={thumbUrl} alt={file.name} width={w} height={Math.min(h, 360)} onError={failed}
          style={{ maxWidth: "100%", height: "auto", maxHeight: 360, objectFit: "cover", borderRadius: 8, display: "block" }} />
          : <div style={{ width: w, height: Math.min(h, 360), maxWidth: "100%", borderRadius: 8, background: "var(--gray-a4)" }} />}
      </a>
    );
  }
  const media = url && file.kind === "audio"
    ? <audio src={url} controls preload="metadata" className="file-audio" onError={failed} style={{ width: 260, maxWidth: "100%" }} />
    : url && file.kind === "video"
      ? <video src={url} poster={thumbUrl || undefined} controls playsInline preload="metadata" className="file-video"
          onError={failed} style={{ width: 320, maxWidth: "100%", maxHeight: 360, borderRadius: 8 }} />
      : null;
  return (
    <div style={{ display: "flex", flexDirection: "column", gap: 6, maxWidth: "100%" }}>
      {media}
      <div className="file-card" style={{ display: "flex", alignItems: "center", gap: 10, minWidth: 0 }}>
        <div style={{ fontSize: 30, lineHeight: 1 }}>{file.icon}</div>
        <div style={{ flex: 1, minWidth: 0 }}>
          <div className="file-name" style={{ fontSize: 14, fontWeight: 500, overflow: "hidden", textOverflow: "ellipsis",
            whiteSpace: "nowrap" }} title={file.name}>{file.name}</div>
          <div className="file-size" style={{ fontSize: 12, color: "var(--gray-11)" }}>{file.size}</div>
        </div>
        <a href={url ? url + "&dl=1" : undefined} download={file.name} className="file-download rt-reset rt-BaseButton rt-IconButton rt-r-size-2 rt-variant-soft"
          aria-label={L("file.download")} title={L("file.download")} style={{ textDecoration: "none" }}>⬇</a>
      </div>
    </div>
  );
}
