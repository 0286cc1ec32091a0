// Bridge (issue 23): the PeerJS client of one call, no markup. One Peer per tab, one MediaConnection
// per other participant (a mesh; 1:1 is a mesh of one). It owns the Peer and the streams; Python
// owns everything shown (its <video> elements, found by id: remoteVideoId in a 1:1 call, else
// "call-remote-" + the peer id) and every decision (whom to dial and to keep: the server's). Props
// in: the peer id and token issued to this tab, ICE servers, signalling path, peers to dial and to
// keep, video or voice, mic, camera, screen and full screen wanted. Events out name the remote peer
// if any.
import { useEffect, useRef } from "react";
import { Peer } from "peerjs";

function attach(id, stream) {
  const el = id && document.getElementById(id);
  if (el && el.srcObject !== stream) el.srcObject = stream;
}

export function CallBridge(props) {
  const { peerId, token, iceServers, path, dial, keep, video, mic, camera, screen, localVideoId } = props;
  const handlers = useRef(props);
  handlers.current = props;
  const local = useRef(null);
  const shared = useRef(null);  // the screen's stream while it replaces the camera
  const conns = useRef({});  // remote peer id -> {call, stream}
  const kept = useRef([]);
  const remoteId = (other) => handlers.current.remoteVideoId || `call-remote-${other}`;
  // Screen sharing: the screen's track (or the camera's, back) on every connection (replaceTrack: no new offer).
  const send = (track, only) => (only ? [only] : Object.values(conns.current)).forEach(({ call }) => {
    const sender = call.peerConnection && call.peerConnection.getSenders().find((x) => x.track && x.track.kind === "video");
    if (sender && track) sender.replaceTrack(track);
  });

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
      const other = call.peer;
      conns.current[other] = { call, stream: null };
      call.on("stream", (stream) => {
        if (!conns.current[other] || conns.current[other].call !== call) return;
        conns.current[other].stream = stream;
        attach(remoteId(other), stream);
        if (shared.current) send(shared.current.getVideoTracks()[0], conns.current[other]);
        const state = () => emit("onRemote", other, {
          video: stream.getVideoTracks().some((t) => t.enabled && !t.muted),
          audio: stream.getAudioTracks().some((t) => t.enabled && !t.muted),
        });
        stream.getTracks().forEach((t) => { t.onmute = state; t.onunmute = state; });
        state();
        emit("onConnected", other);
      });
      call.on("close", () => {
        if (!conns.current[other] || conns.current[other].call !== call) return;  // replaced: a reloaded peer redialled
        delete conns.current[other];
        emit("onLeft", other);
      });
      call.on("error", (e) => emit("onError", String((e && e.type) || "call"), other));
    };
    const media = navigator.mediaDevices.getUserMedia({ audio: true, video: !!video }).then((stream) => {
      if (closed) { stream.getTracks().forEach((t) => t.stop()); return null; }
      local.current = stream;
      attach(handlers.current.localVideoId, stream);
      return stream;
    });
    media.catch(() => emit("onError", "media", ""));
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
    peer.on("error", (e) => emit("onError", String((e && e.type) || "peer"), ""));
    return () => {
      closed = true;
      Object.values(conns.current).forEach(({ call }) => call.close());
      conns.current = {};
      peer.destroy();
      media.then((stream) => { if (stream) stream.getTracks().forEach((t) => t.stop()); });
      local.current = null;
    };
    // One Peer per issued id: a new id is a new call.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [peerId]);

  // Someone the server no longer counts in the call (hung up, removed from the group): hang up on them.
  const keepKey = JSON.stringify(keep || []);
  useEffect(() => {
    const now = keep || [];
    kept.current.filter((p) => !now.includes(p) && conns.current[p]).forEach((p) => conns.current[p].call.close());
    kept.current = now;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [keepKey]);

  useEffect(() => {
    const stream = local.current;
    if (!stream) return;
    stream.getAudioTracks().forEach((t) => { t.enabled = !!mic; });
    stream.getVideoTracks().forEach((t) => { t.enabled = !!camera; });
  }, [mic, camera, local.current]);

  // Stopped from the browser's own "stop sharing" bar too; Python hears of every change (onScreen).
  useEffect(() => {
    const cameraStream = local.current;
    if (!peerId || !cameraStream) return undefined;
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
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [screen, peerId]);

  // Full screen is the browser's own: asked for while the button's click still counts as the user's
  // gesture; left by Esc too, and on hang-up (unmount). Python hears of every change (onFull).
  useEffect(() => {
    const el = document.getElementById(props.fullId);
    if (props.full && !document.fullscreenElement && el) el.requestFullscreen().catch(() => handlers.current.onFull(false));
    else if (!props.full && document.fullscreenElement) document.exitFullscreen().catch(() => {});
  }, [props.full]);
  useEffect(() => {
    const tell = () => handlers.current.onFull && handlers.current.onFull(!!document.fullscreenElement);
    document.addEventListener("fullscreenchange", tell);
    return () => { document.removeEventListener("fullscreenchange", tell); if (document.fullscreenElement) document.exitFullscreen().catch(() => {}); };
  }, []);

  // Python shows the <video> elements when it wants (a tile appears when the server names its
  // participant): attach the streams to whatever elements are there now, after every render.
  useEffect(() => {
    attach(localVideoId, shared.current || local.current);
    Object.entries(conns.current).forEach(([other, c]) => attach(remoteId(other), c.stream));
  });
  return null;
}
