// Bridge (issue 21): the chosen picture lives in the browser (Reflex's upload map), so the
// browser posts it, untouched, with the crop box Python holds. POST /api/avatar checks the
// session cookie, the Origin and the size, crops on the server and re-encodes. The answer
// ({avatar_id} or {error, max}) goes back to a Python handler.
export function postAvatar(url, file, box) {
  if (!file || !box) return Promise.resolve({ error: "err.bad_request" });
  const query = new URLSearchParams({ x: box.x, y: box.y, w: box.width, h: box.height });
  return fetch(`${url}?${query}`, {
    method: "POST", body: file, credentials: "same-origin",
    headers: { "Content-Type": file.type || "application/octet-stream" },
  }).then((r) => r.json()).catch(() => ({ error: "err.bad_request" }));
}
