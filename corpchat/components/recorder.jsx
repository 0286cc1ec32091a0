// Voice messages (🎤) and round video messages (⏺) recorded with MediaRecorder, uploaded with
// progress like any attachment; Python gets only the uploaded file id (onSend). Durations are
// measured again on the server: the browser's webm has none in its header.
import { useEffect, useRef, useState } from "react";
import { errorText } from "../attachments/attachments.jsx";
import { clientId, discardUpload, uploadFile } from "../upload_bridge/upload.js";

const MAX_CIRCLE_MS = 60000;

function pickType(candidates) {
  return candidates.find((t) => window.MediaRecorder && MediaRecorder.isTypeSupported(t)) || "";
}

function clock(ms) {
  const s = Math.floor(ms / 1000);
  return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
}

// One recording: start(stream) ... stop() resolves with the Blob.
function useRecording(types) {
  const rec = useRef(null);
  const chunks = useRef([]);
  const stream = useRef(null);
  const [startedAt, setStartedAt] = useState(0);
  const [now, setNow] = useState(0);
  useEffect(() => {
    if (!startedAt) return undefined;
    const id = setInterval(() => setNow(Date.now()), 200);
    return () => clearInterval(id);
  }, [startedAt]);
  const release = () => {
    if (stream.current) stream.current.getTracks().forEach((t) => t.stop());
    stream.current = null;
  };
  useEffect(() => release, []);
  const start = (s) => {
    stream.current = s;
    chunks.current = [];
    const type = pickType(types);
    const r = new MediaRecorder(s, type ? { mimeType: type } : undefined);
    r.ondataavailable = (e) => { if (e.data && e.data.size) chunks.current.push(e.data); };
    r.start(250);
    rec.current = r;
    setStartedAt(Date.now());
    setNow(Date.now());
  };
  const stop = () => new Promise((resolve) => {
    const r = rec.current;
    setStartedAt(0);
    if (!r || r.state === "inactive") { release(); resolve(null); return; }
    r.onstop = () => { release(); resolve(new Blob(chunks.current, { type: r.mimeType || types[0] })); };
    r.stop();
  });
  return { start, stop, elapsed: startedAt ? now - startedAt : 0, recording: !!startedAt, stream };
}

function useUpload(onSend, kind, name) {
  const [state, setState] = useState({ status: "idle", progress: 0, error: "" });
  const job = useRef(null);
  const send = (blob) => {
    setState({ status: "uploading", progress: 0, error: "" });
    const up = uploadFile(blob, name, (p) => setState((s) => ({ ...s, progress: p })));
    job.current = up;
    return up.promise.then((body) => {
      onSend([{ file_id: body.file_id, kind, client_id: clientId() }], "");
      setState({ status: "idle", progress: 0, error: "" });
      return true;
    }, (err) => {
      setState({ status: err.message === "aborted" ? "idle" : "error", progress: 0, error: err.message });
      return false;
    });
  };
  const abort = () => { if (job.current) job.current.abort(); };
  return { ...state, send, abort, reset: () => setState({ status: "idle", progress: 0, error: "" }) };
}

const iconButton = "rt-reset rt-BaseButton rt-IconButton rt-r-size-2 rt-variant-ghost";
const button = (variant) => "rt-reset rt-BaseButton rt-Button rt-r-size-2 rt-variant-" + variant;

export function VoiceRecorder({ onSend, labels }) {
  const L = (k) => (labels && labels[k]) || k;
  const rec = useRecording(["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm"]);
  const upload = useUpload(onSend, "voice", "voice.webm");
  const [level, setLevel] = useState(0);
  const [error, setError] = useState("");
  const blob = useRef(null);
  const meter = useRef(null);

  const begin = async () => {
    setError("");
    try {
      const s = await navigator.mediaDevices.getUserMedia({ audio: true });
      rec.start(s);
      const ctx = new AudioContext();
      const analyser = ctx.createAnalyser();
      ctx.createMediaStreamSource(s).connect(analyser);
      const data = new Uint8Array(analyser.fftSize);
      const tick = () => {
        analyser.getByteTimeDomainData(data);
        let peak = 0;
        data.forEach((v) => { peak = Math.max(peak, Math.abs(v - 128)); });
        setLevel(peak / 128);
        meter.current.frame = requestAnimationFrame(tick);
      };
      meter.current = { ctx, frame: requestAnimationFrame(tick) };
    } catch (e) {
      setError(L("voice.no_mic"));
    }
  };
  const stopMeter = () => {
    if (meter.current) { cancelAnimationFrame(meter.current.frame); meter.current.ctx.close(); meter.current = null; }
    setLevel(0);
  };
  useEffect(() => stopMeter, []);
  const cancel = async () => { stopMeter(); upload.abort(); await rec.stop(); blob.current = null; upload.reset(); };
  const finish = async () => {
    stopMeter();
    const b = (await rec.stop()) || blob.current;
    if (!b) return;
    blob.current = b;
    if (await upload.send(b)) blob.current = null;
  };

  const active = rec.recording || upload.status !== "idle";
  return (
    <div style={{ display: "flex", alignItems: "center" }}>
      {!active && (
        <button type="button" id="voice-button" className={iconButton} aria-label={L("voice.record")}
          title={error || L("voice.record")} onClick={begin} style={{ fontSize: 18 }}>🎤</button>
      )}
      {active && (
        <div id="voice-bar" style={{ position: "absolute", inset: 0, zIndex: 10, display: "flex", alignItems: "center",
          gap: 10, padding: "0 12px", background: "var(--color-panel-solid)" }}>
          <button type="button" id="voice-cancel" className={iconButton} aria-label={L("voice.cancel")} onClick={cancel}>✕</button>
          <span style={{ width: 10, height: 10, borderRadius: "50%", background: "var(--red-9)",
            opacity: rec.recording ? 1 : 0.3 }} />
          <span id="voice-elapsed" style={{ fontVariantNumeric: "tabular-nums" }}>{clock(rec.elapsed)}</span>
          <div style={{ flex: 1, height: 6, background: "var(--gray-a4)", borderRadius: 3 }}>
            <div style={{ height: 6, borderRadius: 3, background: rec.recording ? "var(--red-9)" : "var(--accent-9)",
              width: ((rec.recording ? level : upload.progress) * 100) + "%" }} className="voice-level" />
          </div>
          {upload.status === "error" && <span style={{ color: "var(--red-11)", fontSize: 13 }}>{errorText(labels, upload.error)}</span>}
          <button type="button" id="voice-send" className={button("solid")} disabled={upload.status === "uploading"}
            onClick={finish}>{upload.status === "error" ? L("file.retry") : L("voice.send")}</button>
        </div>
      )}
      {error && !active && <span role="alert" style={{ color: "var(--red-11)", fontSize: 12 }}>{error}</span>}
    </div>
  );
}

export function CircleRecorder({ onSend, labels }) {
  const L = (k) => (labels && labels[k]) || k;
  const rec = useRecording(["video/webm;codecs=vp8,opus", "video/webm;codecs=vp9,opus", "video/webm", "video/mp4"]);
  const upload = useUpload(onSend, "video", "circle.webm");
  const [phase, setPhase] = useState("idle");  // idle | recording | review
  const [error, setError] = useState("");
  const [review, setReview] = useState(null);  // {blob, url}
  const live = useRef(null);

  const begin = async () => {
    setError("");
    if (review) { URL.revokeObjectURL(review.url); setReview(null); }
    try {
      const s = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 480 }, height: { ideal: 480 }, facingMode: "user" }, audio: true });
      rec.start(s);
      setPhase("recording");
    } catch (e) {
      setError(L("circle.no_camera"));
      setPhase("idle");
    }
  };
  const stop = async () => {
    if (live.current) live.current.srcObject = null;
    const blob = await rec.stop();
    if (!blob) { setPhase("idle"); return; }
    setReview({ blob, url: URL.createObjectURL(blob) });
    setPhase("review");
  };
  useEffect(() => { if (phase === "recording" && rec.elapsed >= MAX_CIRCLE_MS) stop(); }, [rec.elapsed, phase]);
  // The live preview's <video> exists only once the dialog has rendered.
  useEffect(() => {
    if (phase === "recording" && live.current && rec.stream.current) {
      live.current.srcObject = rec.stream.current;
      live.current.play().catch(() => {});
    }
  }, [phase]);
  const close = async () => {
    upload.abort();
    if (rec.recording) await rec.stop();
    if (review) URL.revokeObjectURL(review.url);
    setReview(null);
    setPhase("idle");
    upload.reset();
  };
  const send = async () => { if (review && await upload.send(review.blob)) close(); };

  const ring = { width: 240, height: 240, borderRadius: "50%", objectFit: "cover", background: "black", display: "block" };
  return (
    <div style={{ display: "flex", alignItems: "center" }}>
      <button type="button" id="circle-button" className={iconButton} aria-label={L("circle.record")}
        title={error || L("circle.record")} onClick={begin} style={{ fontSize: 18 }}>⏺</button>
      {phase !== "idle" && (
        <div id="circle-dialog" style={{ position: "fixed", inset: 0, zIndex: 60, background: "rgba(0,0,0,0.6)",
          display: "flex", alignItems: "center", justifyContent: "center" }}>
          <div style={{ background: "var(--color-panel-solid)", borderRadius: 16, padding: 16, display: "flex",
            flexDirection: "column", alignItems: "center", gap: 12, maxWidth: "calc(100vw - 24px)" }}>
            {/* Two keys, two elements: one reused <video> kept the stopped camera stream as its
                srcObject, which outranks src, and the review showed black. */}
            {phase === "recording"
              ? <video key="live" ref={live} muted playsInline autoPlay id="circle-live" style={{ ...ring, transform: "scaleX(-1)" }} />
              : <video key="review" src={review && review.url} playsInline controls id="circle-review" style={ring} />}
            <div style={{ fontVariantNumeric: "tabular-nums" }} id="circle-elapsed">
              {phase === "recording" ? clock(rec.elapsed) + " / " + clock(MAX_CIRCLE_MS) : ""}
              {upload.status === "uploading" && Math.round(upload.progress * 100) + "%"}
              {upload.status === "error" && <span style={{ color: "var(--red-11)" }}>{errorText(labels, upload.error)}</span>}
            </div>
            <div style={{ display: "flex", gap: 8, flexWrap: "wrap", justifyContent: "center" }}>
              {phase === "recording" && <>
                <button type="button" id="circle-discard" className={button("soft")} onClick={close}>{L("circle.discard")}</button>
                <button type="button" id="circle-stop" className={button("solid")} onClick={stop}>{L("circle.stop")}</button>
              </>}
              {phase === "review" && <>
                <button type="button" id="circle-discard" className={button("soft")} onClick={close}>{L("circle.discard")}</button>
                <button type="button" id="circle-rerecord" className={button("soft")} onClick={begin}
                  disabled={upload.status === "uploading"}>{L("circle.rerecord")}</button>
                <button type="button" id="circle-send" className={button("solid")} onClick={send}
                  disabled={upload.status === "uploading"}>{upload.status === "error" ? L("file.retry") : L("circle.send")}</button>
              </>}
            </div>
          </div>
        </div>
      )}
    </div>
  );
}

export { discardUpload };
