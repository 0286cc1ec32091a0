// Bridge (issue 21): the one transport for file bytes, which live only in the browser. A raw
// body through XMLHttpRequest, the one browser API that reports upload progress. Our routes,
// not Reflex's /_upload (which takes the tab token alone), check the session cookie, the Origin
// and the size while reading: POST /api/upload (attachments, recordings) and the avatar routes.
function post(url, body, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open("POST", url);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let answer = {};
      try { answer = JSON.parse(xhr.responseText); } catch (e) { /* not JSON: a proxy's error page */ }
      resolve([xhr.status, answer]);
    };
    xhr.onerror = () => reject(new Error("network"));
    xhr.onabort = () => reject(new Error("aborted"));
    xhr.send(body);
  });
  return { promise, abort: () => xhr.abort() };
}

// {promise of {file_id}, or of an Error named by its error key; abort}
export function uploadFile(file, name, onProgress) {
  const up = post("/api/upload?name=" + encodeURIComponent(name || "file"), file, onProgress);
  const promise = up.promise.then(([status, answer]) => {
    if (status === 201 && answer.file_id) return answer;
    throw new Error(answer.error || (status === 413 ? "file_too_large" : "failed"));
  });
  return { promise, abort: up.abort };
}

// The untouched picture with the crop box Python holds (the server crops); a promise of the
// answer, {avatar_id} or {error[, max]}, for a Python handler.
export function postAvatar(url, file, box) {
  const bad = { error: "err.bad_request" };
  if (!file || !box) return Promise.resolve(bad);
  const query = new URLSearchParams({ x: box.x, y: box.y, w: box.width, h: box.height });
  return post(`${url}?${query}`, file).promise.then(([, a]) => (a.avatar_id || a.error ? a : bad), () => bad);
}
