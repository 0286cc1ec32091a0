// Bridge (issue 23): the PeerJS client for one call, no markup. It owns the Peer, the camera and
// microphone stream and the remote stream; Python owns everything shown (the <video> elements are
// Python's, found by id) and every decision (who to dial comes from the server). Props in: the
// peer id and token the server issued to this tab, the ICE servers, the signalling path, the
// peers to dial, video or voice, mic, camera and screen wanted, when the call connected (for the timer). Events out: open, connected, remote
// (the remote tracks' state), screen (sharing or not), ended, error.
import { useEffect, useRef } from "react";
import { Peer } from "peerjs";

function attach(id, stream) {
  const el = id && document.getElementById(id);
  if (el && el.srcObject !== stream) el.srcObject = stream;
}

export function CallBridge(props) {
  const { peerId, token, iceServers, path, dial, video, mic, camera, screen, localVideoId, remoteVideoId, timerId,
    since } = props;
  const handlers = useRef(props);
  handlers.current = props;
  const local = useRef(null);
  const remote = useRef(null);
  const shared = useRef(null);  // the screen's stream while it replaces the camera
  const calls = useRef([]);

  useEffect(() => {
    if (!peerId) return undefined;
    let closed = false;
    const emit = (name, ...args) => { if (!closed && handlers.current[name]) handlers.current[name](...args); };
    const secure = window.location.protocol === "https:";
    const peer = new Peer(peerId, {
      host: window.location.hostname,
      port: Number(window.location.port) || (secure ? 443 : 80),
      secure, path, key: "corpchat", token,
      config: { iceServers: iceServers || [] },
    });
    const follow = (call) => {
      calls.current.push(call);
      call.on("stream", (stream) => {
        remote.current = stream;
        attach(handlers.current.remoteVideoId, stream);
        const state = () => emit("onRemote", {
          video: stream.getVideoTracks().some((t) => t.enabled && !t.muted),
          audio: stream.getAudioTracks().some((t) => t.enabled && !t.muted),
        });
        stream.getTracks().forEach((t) => { t.onmute = state; t.onunmute = state; });
        state();
        emit("onConnected");
      });
      call.on("close", () => emit("onEnded"));
      call.on("error", (e) => emit("onError", String((e && e.type) || "call")));
    };
    const media = navigator.mediaDevices.getUserMedia({ audio: true, video: !!video }).then((stream) => {
      if (closed) { stream.getTracks().forEach((t) => t.stop()); return null; }
      local.current = stream;
      attach(handlers.current.localVideoId, stream);
      return stream;
    });
    media.catch(() => emit("onError", "media"));
    peer.on("open", () => {
      emit("onOpen", peer.id);
      media.then((stream) => {
        if (!stream) return;
        (dial || []).forEach((other) => follow(peer.call(other, stream, { metadata: { video: !!video } })));
      });
    });
    peer.on("call", (call) => {
      media.then((stream) => { if (stream) { call.answer(stream); follow(call); } });
    });
    peer.on("error", (e) => emit("onError", String((e && e.type) || "peer")));
    return () => {
      closed = true;
      calls.current.forEach((c) => c.close());
      calls.current = [];
      peer.destroy();
      media.then((stream) => { if (stream) stream.getTracks().forEach((t) => t.stop()); });
      local.current = null;
      remote.current = null;
    };
    // One Peer per issued id: a new id is a new call.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [peerId]);

  useEffect(() => {
    const stream = local.current;
    if (!stream) return;
    stream.getAudioTracks().forEach((t) => { t.enabled = !!mic; });
    stream.getVideoTracks().forEach((t) => { t.enabled = !!camera; });
  }, [mic, camera, local.current]);

  // Screen sharing: the screen's track replaces the camera's on every connection (replaceTrack: no
  // new offer), and back. Stopped from the browser's own "stop sharing" bar too; Python hears of
  // every change (onScreen) and shows the button accordingly.
  useEffect(() => {
    const cameraStream = local.current;
    if (!peerId || !cameraStream) return undefined;
    const send = (track) => calls.current.forEach((c) => {
      const sender = c.peerConnection && c.peerConnection.getSenders().find((x) => x.track && x.track.kind === "video");
      if (sender) sender.replaceTrack(track);
    });
    const stop = () => {
      if (!shared.current) return;
      shared.current.getTracks().forEach((t) => t.stop());
      shared.current = null;
      send(cameraStream.getVideoTracks()[0] || null);
      attach(handlers.current.localVideoId, cameraStream);
    };
    if (!screen) { stop(); return undefined; }
    let cancelled = false;
    navigator.mediaDevices.getDisplayMedia({ video: true }).then((stream) => {
      if (cancelled) { stream.getTracks().forEach((t) => t.stop()); return; }
      shared.current = stream;
      const track = stream.getVideoTracks()[0];
      track.onended = () => { stop(); if (handlers.current.onScreen) handlers.current.onScreen(false); };
      send(track);
      attach(handlers.current.localVideoId, stream);
      if (handlers.current.onScreen) handlers.current.onScreen(true);
    }).catch(() => { if (handlers.current.onScreen) handlers.current.onScreen(false); });
    return () => { cancelled = true; };
  }, [screen, peerId]);

  // The duration, written into Python's element once a second (a state change a second would cost
  // a round trip per tab for a clock).
  useEffect(() => {
    if (!since || !timerId) return undefined;
    const tick = () => {
      const el = document.getElementById(timerId);
      const s = Math.max(0, Math.floor((Date.now() - since) / 1000));
      const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = String(s % 60).padStart(2, "0");
      if (el) el.textContent = h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
    };
    tick();
    const id = setInterval(tick, 1000);
    return () => clearInterval(id);
  }, [since, timerId]);

  // Python shows the <video> elements when it wants (after "connected", say): attach the streams
  // to whatever elements are there now, after every render.
  useEffect(() => {
    attach(localVideoId, shared.current || local.current);
    attach(remoteVideoId, remote.current);
  });
  return null;
}
