// Avatar cropping with Cropper.js 1.x (through react-cropper): a square frame and a
// round preview. Dragging and zooming stay in the browser; Python receives the chosen
// file (through Reflex's upload map, `setFiles`) and the final pixel box, once per
// gesture, never per mouse move.
import { useEffect, useRef, useState } from "react";
import Cropper from "react-cropper";
import "cropperjs/dist/cropper.css";

const ACCEPT = "image/png,image/jpeg,image/webp,image/gif";

// With `uploadUrl`, a Save button posts the cropped square (a 512 px PNG) there with the
// session cookie and reports the new avatar id (`onSaved`) or an error key (`onError`).
export function AvatarCropper({ setFiles, onCrop, onError, onSaved, maxBytes, previewSize, height, chooseLabel,
                                uploadUrl, saveLabel }) {
  const [src, setSrc] = useState(null);
  const [busy, setBusy] = useState(false);
  const cropperRef = useRef(null);
  const inputRef = useRef(null);

  // Each chosen file gets an object URL; free the previous one.
  useEffect(() => () => { if (src) URL.revokeObjectURL(src); }, [src]);

  const pick = (event) => {
    const file = event.target.files && event.target.files[0];
    if (!file) return;
    // The server checks the size again; this only spares a 50 MB upload that would be refused.
    if (maxBytes && file.size > maxBytes) {
      if (onError) onError("err.avatar_too_large");
      event.target.value = "";
      return;
    }
    // A file that is no image (or a broken one) is said so, not shown as an empty frame.
    const url = URL.createObjectURL(file);
    const probe = new Image();
    probe.onload = () => { setSrc(url); if (setFiles) setFiles([file]); };
    probe.onerror = () => {
      URL.revokeObjectURL(url);
      event.target.value = "";
      if (onError) onError("err.avatar_not_image");
    };
    probe.src = url;
  };

  const report = () => {
    const cropper = cropperRef.current && cropperRef.current.cropper;
    if (!cropper || !onCrop) return;
    // Rounded, in pixels of the image as the browser shows it (upright): the server
    // applies the EXIF orientation before cropping, so both sides agree.
    const d = cropper.getData(true);
    onCrop({ x: d.x, y: d.y, width: d.width, height: d.height });
  };

  const save = () => {
    const cropper = cropperRef.current && cropperRef.current.cropper;
    if (!cropper || !uploadUrl || busy) return;
    const canvas = cropper.getCroppedCanvas({ width: 512, height: 512, imageSmoothingQuality: "high" });
    if (!canvas) return;
    setBusy(true);
    canvas.toBlob((blob) => {
      fetch(uploadUrl, { method: "POST", body: blob, credentials: "same-origin",
                         headers: { "Content-Type": "image/png" } })
        .then((r) => r.json())
        .then((j) => {
          if (j.avatar_id) {
            setSrc(null);
            if (inputRef.current) inputRef.current.value = "";
            if (onSaved) onSaved(j.avatar_id);
          } else if (onError) onError(j.error || "err.bad_request");
        })
        .catch(() => onError && onError("err.bad_request"))
        .finally(() => setBusy(false));
    }, "image/png");
  };

  const size = previewSize || 96;
  return (
    <div style={{ display: "flex", gap: "16px", alignItems: "flex-start", flexWrap: "wrap", maxWidth: "100%" }}>
      <div style={{ flex: "1 1 260px", minWidth: 0 }}>
        {/* The browser's own picker speaks the browser's language: a button in ours opens it. */}
        <input ref={inputRef} type="file" accept={ACCEPT} onChange={pick} id="avatar-file"
               style={{ display: "none" }} aria-label={chooseLabel} />
        <button type="button" className="rt-reset rt-BaseButton rt-r-size-2 rt-variant-soft rt-Button"
                onClick={() => inputRef.current && inputRef.current.click()} id="avatar-choose">
          {chooseLabel}
        </button>
        {src && (
          <Cropper
            ref={cropperRef}
            src={src}
            style={{ height: height || 320, width: "100%", marginTop: "8px" }}
            aspectRatio={1}
            viewMode={1}
            autoCropArea={1}
            background={false}
            responsive={true}
            guides={false}
            // Modern browsers already show images upright (image-orientation: from-image);
            // letting Cropper.js rotate by EXIF too would turn them twice.
            checkOrientation={false}
            preview=".corpchat-avatar-preview"
            ready={report}
            cropend={report}
            zoom={() => setTimeout(report, 0)}
          />
        )}
        {src && uploadUrl && (
          <button type="button" className="rt-reset rt-BaseButton rt-r-size-2 rt-variant-solid rt-Button"
                  style={{ marginTop: "8px" }} disabled={busy} onClick={save} id="avatar-save">
            {saveLabel || "Save"}
          </button>
        )}
      </div>
      {/* Only while a picture is being cropped: Cropper.js fills it, and it kept the last
          picture, mis-scaled, after saving. */}
      {src && <div className="corpchat-avatar-preview" key={src}
           style={{ width: size, height: size, borderRadius: "50%", overflow: "hidden",
                    flex: "0 0 auto", background: "var(--gray-a3)" }} />}
    </div>
  );
}
