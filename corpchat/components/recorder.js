// Bridge (issue 21): MediaRecorder for voice and round-video messages, no markup; a Blob cannot
// travel in a Reflex event. Python (state/chat/recorder.py) owns the phases, labels, clock, cap
// and formats, and says what it wants: "record" (the microphone, or the stream the react-webcam
// preview `previewId` already shows, so the camera is asked once; Python waits for it), "review"
// (stop, hand over an object URL to play, upload it at once), anything else: drop everything; a
// new uploadTry uploads the take again. Events out: tick (ms, twice a second), stopped (ms,
// bytes, URL), progress (fraction), uploaded (file id), failed (code; "lost" when mounted with a
// take already wanted: it died with the old page). It also stops at maxMs itself, so a slow
// round trip cannot take it past what the server accepts.
import { useEffect, useRef } from "react";
import { uploadFile } from "../upload_bridge/upload.js";

const streamOf = (previewId) => previewId
  ? Promise.resolve([document.getElementById(previewId)?.srcObject, false])
  : navigator.mediaDevices.getUserMedia({ audio: true }).then((s) => [s, true]);

export function RecorderBridge(props) {
  const { wanted, previewId, types, name, maxMs, uploadTry } = props;
  const on = useRef(props);  // the latest event callbacks, for the recorder's own callbacks
  on.current = props;
  const take = useRef({}), mounted = useRef(false);

  const quiet = (t) => { clearInterval(t.ticker); clearTimeout(t.cap); };
  const drop = () => {
    const t = take.current;
    t.dead = true;
    quiet(t);
    t.job?.abort();
    if (t.rec && t.rec.state !== "inactive") { t.rec.onstop = null; t.rec.stop(); }
    t.own?.getTracks().forEach((track) => track.stop());
    if (t.url) URL.revokeObjectURL(t.url);
    take.current = {};
  };
  const upload = (t) => {
    t.job = uploadFile(t.blob, name, (p) => { if (!t.dead) on.current.onProgress(p); });
    t.job.promise.then((body) => { t.job = null; if (!t.dead) on.current.onUploaded(body.file_id); },
      (err) => { t.job = null; if (!t.dead && err.message !== "aborted") on.current.onFailed(err.message); });
  };
  const stop = () => {
    const t = take.current;
    quiet(t);
    if (!t.rec || t.rec.state === "inactive") return;
    t.rec.onstop = () => {
      t.own?.getTracks().forEach((track) => track.stop());
      t.blob = new Blob(t.chunks, { type: t.rec.mimeType || types[0] });
      t.url = URL.createObjectURL(t.blob);
      on.current.onStopped(Date.now() - t.started, t.blob.size, t.url);
      upload(t);
    };
    t.rec.stop();
  };
  const record = () => {
    drop();
    const t = { chunks: [] };
    take.current = t;
    streamOf(previewId).then(([s, own]) => {
      if (t.dead) { if (own) s.getTracks().forEach((track) => track.stop()); return; }
      if (own) t.own = s;
      const type = types.find((x) => MediaRecorder.isTypeSupported(x));
      t.rec = new MediaRecorder(s, type ? { mimeType: type } : undefined);  // no stream: throws
      t.rec.ondataavailable = (e) => { if (e.data && e.data.size) t.chunks.push(e.data); };
      t.rec.start(250);
      t.started = Date.now();
      t.ticker = setInterval(() => on.current.onTick(Date.now() - t.started), 500);
      t.cap = setTimeout(stop, maxMs);
    }).catch(() => { if (!t.dead) on.current.onFailed(previewId ? "no_camera" : "no_mic"); });
  };

  useEffect(() => {
    if (!mounted.current) { mounted.current = true; if (wanted !== "off") { on.current.onFailed("lost"); return; } }
    if (wanted === "record") record();
    else if (wanted === "review") stop();
    else drop();
  }, [wanted]);
  useEffect(() => () => drop(), []);
  useEffect(() => { const t = take.current; if (uploadTry && t.blob && !t.job && !t.dead) upload(t); }, [uploadTry]);
  return null;
}
