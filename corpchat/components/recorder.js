// Bridge (issue 21): MediaRecorder for voice and round-video messages, no markup. Python owns
// the phases, labels, timer text and cap (state/chat/recorder.py) and says what it wants:
//   "record": record (a voice from the microphone; a round video from the stream its
//     react-webcam preview already shows, so the camera is asked once), report the time twice
//     a second (onTick) and stop by itself at maxMs;
//   "review": stop, hand over an object URL to play (onStopped), then upload it at once
//     (upload.js: onProgress, onUploaded or onFailed); a new uploadTry uploads it again;
//   "off": drop everything (Python discards an upload it no longer wants).
// Mounted with a take already wanted, it reports onFailed("lost"). JS because a Blob cannot
// travel in a Reflex event.
import { useEffect, useRef } from "react";
import { uploadFile } from "../upload_bridge/upload.js";

const TYPES = {
  voice: ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm"],
  video: ["video/webm;codecs=vp8,opus", "video/webm;codecs=vp9,opus", "video/webm", "video/mp4"],
};

function streamFor(kind, previewId) {
  if (kind === "voice") return navigator.mediaDevices.getUserMedia({ audio: true }).then((s) => [s, true]);
  return new Promise((resolve, reject) => {
    const until = Date.now() + 20000, look = () => {
      const s = document.getElementById(previewId)?.srcObject;
      if (s) resolve([s, false]);
      else if (Date.now() > until) reject(new Error("no_camera"));
      else setTimeout(look, 50);
    };
    look();
  });
}

export function RecorderBridge(props) {
  const { wanted, kind, maxMs, previewId, uploadTry } = props;
  const on = useRef(props);  // the latest event callbacks, for the recorder's own callbacks
  on.current = props;
  const take = useRef({}), mounted = useRef(false);

  const quiet = (t) => { clearInterval(t.ticker); clearTimeout(t.cap); };
  const drop = () => {
    const t = take.current;
    t.dead = true;
    quiet(t);
    if (t.job) t.job.abort();
    if (t.rec && t.rec.state !== "inactive") { t.rec.onstop = null; t.rec.stop(); }
    if (t.own) t.own.getTracks().forEach((track) => track.stop());
    if (t.url) URL.revokeObjectURL(t.url);
    take.current = {};
  };
  const upload = (t) => {
    t.job = uploadFile(t.blob, t.kind === "voice" ? "voice.webm" : "circle.webm", (p) => {
      const percent = Math.floor(p * 10) * 10;
      if (percent !== t.percent && !t.dead) { t.percent = percent; on.current.onProgress(percent); }
    });
    t.job.promise.then((body) => { t.job = null; if (!t.dead) on.current.onUploaded(body.file_id); },
      (err) => { t.job = null; if (!t.dead && err.message !== "aborted") on.current.onFailed(err.message); });
  };
  const stop = () => {
    const t = take.current;
    quiet(t);
    if (!t.rec || t.rec.state === "inactive") return;
    t.rec.onstop = () => {
      if (t.own) t.own.getTracks().forEach((track) => track.stop());
      t.blob = new Blob(t.chunks, { type: t.rec.mimeType || TYPES[t.kind][0] });
      t.url = URL.createObjectURL(t.blob);
      on.current.onStopped(Date.now() - t.started, t.blob.size, t.url);
      upload(t);
    };
    t.rec.stop();
  };
  const record = () => {
    drop();
    const t = { kind, chunks: [] };
    take.current = t;
    streamFor(kind, previewId).then(([s, own]) => {
      if (t.dead) { if (own) s.getTracks().forEach((track) => track.stop()); return; }
      if (own) t.own = s;
      const type = TYPES[kind].find((x) => MediaRecorder.isTypeSupported(x)) || "";
      t.rec = new MediaRecorder(s, type ? { mimeType: type } : undefined);
      t.rec.ondataavailable = (e) => { if (e.data && e.data.size) t.chunks.push(e.data); };
      t.rec.start(250);
      t.started = Date.now();
      t.ticker = setInterval(() => on.current.onTick(Date.now() - t.started), 500);
      t.cap = setTimeout(stop, maxMs);
    }).catch(() => { if (!t.dead) on.current.onFailed(kind === "voice" ? "no_mic" : "no_camera"); });
  };

  useEffect(() => {
    // A reload, or the composer shown again, while Python holds a take: it died with the old one.
    if (!mounted.current) { mounted.current = true; if (wanted !== "off") { on.current.onFailed("lost"); return; } }
    if (wanted === "record") record();
    else if (wanted === "review") stop();
    else drop();
  }, [wanted]);
  useEffect(() => () => drop(), []);
  useEffect(() => { const t = take.current; if (uploadTry && t.blob && !t.job && !t.dead) upload(t); }, [uploadTry]);
  return null;
}
