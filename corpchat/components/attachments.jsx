// Bridge (issue 21): browser File objects cannot cross a Reflex event, so they stay here, under
// a key; Python (state/chat/attachments.py) owns the list, the caps, the errors and the markup.
// Props in: the file input's and the drop/paste target's ids, and `commands` [[n, op, key]]
// ("upload" / "forget"). Events out: added, drag, progress (≤ 5/s a file), uploaded, failed.
import { useEffect, useRef } from "react";
import { clientId, uploadFile } from "../upload_bridge/upload.js";

// recorder.jsx still shows its own upload errors; it goes when the recorder moves to Python.
export function errorText(labels, code) {
  return (labels && (labels["file.err_" + code] || labels["file.failed"])) || code;
}

const hasFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types || []).includes("Files");
// Per page, not per mount: a re-rendered room pane keeps its files. After a reload the list is
// empty, and an upload Python still waits for is reported "gone".
const files = {};
let seen = 0;

export function AttachBridge({ input, target, commands, onAdded, onDrag, onProgress, onUploaded, onFailed }) {
  const out = useRef({});
  out.current = { onAdded, onDrag, onProgress, onUploaded, onFailed };

  useEffect(() => {
    const picker = document.getElementById(input);
    const pane = document.getElementById(target);
    let dragging = false;
    const drag = (on) => { if (on !== dragging) { dragging = on; out.current.onDrag(on); } };
    const add = (list) => {
      const picked = Array.from(list || []);
      if (!picked.length) return;
      out.current.onAdded(picked.map((file) => {
        const key = clientId().slice(0, 16);
        const preview = file.type.startsWith("image/") ? URL.createObjectURL(file) : "";
        files[key] = { file, preview, up: null };
        return { key, name: file.name || "file", size: file.size, preview };
      }));
    };
    const on = {
      change: (e) => { add(e.target.files); e.target.value = ""; },
      dragover: (e) => { if (hasFiles(e)) { e.preventDefault(); drag(true); } },
      dragleave: (e) => { if (!pane.contains(e.relatedTarget)) drag(false); },
      drop: (e) => { if (hasFiles(e)) { e.preventDefault(); drag(false); add(e.dataTransfer.files); } },
      paste: (e) => { const f = e.clipboardData && e.clipboardData.files; if (f && f.length) { e.preventDefault(); add(f); } },
    };
    if (picker) picker.addEventListener("change", on.change);
    ["dragover", "dragleave", "drop", "paste"].forEach((t) => pane && pane.addEventListener(t, on[t]));
    return () => {
      if (picker) picker.removeEventListener("change", on.change);
      ["dragover", "dragleave", "drop", "paste"].forEach((t) => pane && pane.removeEventListener(t, on[t]));
    };
  }, [input, target]);

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
