// Bridge (issue 21): browser File objects cannot cross a Reflex event, so they stay here, under
// a key; Python (state/chat/attachments.py) owns the list, the caps, the errors and the markup.
// Props in: the files picked or dropped on the chat pane (Reflex's upload map, filled by
// rx.upload's react-dropzone), the file input's id (emptied, so the same file can be picked
// again), the paste target's id and `commands` [[n, op, key]] ("upload" / "forget").
// Events out: added, progress (<= 5/s a file), uploaded, failed.
import { useEffect, useRef } from "react";
import { uploadFile } from "../upload_bridge/upload.js";

// Per page, not per mount: a re-rendered room pane keeps its files (and does not take the last
// drop again). After a reload the list is empty, and an upload Python still waits for is "gone".
const files = {};
let seen = 0, lastDrop = null;

export function AttachBridge({ input, target, dropped, commands, onAdded, onProgress, onUploaded, onFailed }) {
  const out = useRef({});
  out.current = { onAdded, onProgress, onUploaded, onFailed };
  const add = (list) => {
    const picked = Array.from(list || []);
    if (!picked.length) return;
    out.current.onAdded(picked.map((file) => {
      const bytes = crypto.getRandomValues(new Uint8Array(8));  // not randomUUID: that needs https
      const key = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      const preview = file.type.startsWith("image/") ? URL.createObjectURL(file) : "";
      files[key] = { file, preview, up: null };
      return { key, name: file.name || "file", size: file.size, preview };
    }));
  };

  useEffect(() => {
    if (dropped && dropped !== lastDrop) { lastDrop = dropped; add(dropped); }
    const picker = document.getElementById(input);
    if (picker) picker.value = "";
  }, [dropped]);
  // react-dropzone has no paste.
  useEffect(() => {
    const pane = document.getElementById(target);
    const paste = (e) => { const f = e.clipboardData?.files; if (f?.length) { e.preventDefault(); add(f); } };
    pane?.addEventListener("paste", paste);
    return () => pane?.removeEventListener("paste", paste);
  }, [target]);

  useEffect(() => {
    (commands || []).forEach(([n, op, key]) => {
      if (n <= seen) return;
      seen = n;
      const it = files[key];
      if (!it) { if (op === "upload") out.current.onFailed(key, "gone"); return; }
      if (it.up) it.up.abort();
      if (op === "forget") {
        if (it.preview) URL.revokeObjectURL(it.preview);
        delete files[key];
        return;
      }
      let last = 0;
      it.up = uploadFile(it.file, it.file.name, (p) => {
        const now = Date.now();
        if (now - last >= 200) { last = now; out.current.onProgress(key, p); }
      });
      it.up.promise.then((body) => out.current.onUploaded(key, body.file_id),
        (err) => { if (err.message !== "aborted") out.current.onFailed(key, err.message); });
    });
  }, [commands]);
  return null;
}
