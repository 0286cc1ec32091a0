// Bridge (issue 21): the one transport for file bytes. POST /api/upload takes a raw streamed
// body through XMLHttpRequest, the one browser API that reports upload progress; the route
// checks the session cookie and Origin, caps while reading, sniffs and paces.
export function clientId() {
  // crypto.randomUUID needs a secure context; an intranet deployment may be plain http.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function uploadFile(file, name, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open("POST", "/api/upload?name=" + encodeURIComponent(name || "file"));
    xhr.upload.onprogress = (e) => { if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON: a proxy's error page */ }
      if (xhr.status === 201 && body.file_id) resolve(body);
      else reject(new Error(body.error || (xhr.status === 413 ? "file_too_large" : "failed")));
    };
    xhr.onerror = () => reject(new Error("network"));
    xhr.onabort = () => reject(new Error("aborted"));
    xhr.send(file);
  });
  return { promise, abort: () => xhr.abort() };
}

export function discardUpload(fileId) {
  if (fileId) fetch("/api/upload/" + encodeURIComponent(fileId), { method: "DELETE" }).catch(() => {});
}
