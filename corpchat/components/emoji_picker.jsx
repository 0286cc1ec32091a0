// Wrapper around emoji-mart's picker (categories, search, "frequently used").
// Data and translations are bundled, so nothing is fetched from a CDN.
import { useEffect, useRef } from "react";
import data from "@emoji-mart/data";
import { Picker } from "emoji-mart";
import uk from "@emoji-mart/data/i18n/uk.json";
import ru from "@emoji-mart/data/i18n/ru.json";
import en from "@emoji-mart/data/i18n/en.json";

const I18N = { uk, ru, en };

function insertAtCaret(id, text) {
  const el = document.getElementById(id);
  if (!el) return;
  const start = el.selectionStart ?? el.value.length;
  const end = el.selectionEnd ?? el.value.length;
  el.setRangeText(text, start, end, "end");
  el.dispatchEvent(new Event("input", { bubbles: true }));
  el.focus();
}

export function EmojiPicker({ onSelect, insertInto, locale, theme }) {
  const host = useRef(null);
  const handler = useRef(onSelect);
  handler.current = onSelect;
  useEffect(() => {
    const picker = new Picker({
      data,
      i18n: I18N[locale] || en,
      theme: theme || "auto",
      previewPosition: "none",
      skinTonePosition: "none",
      maxFrequentRows: 1,
      onEmojiSelect: (emoji) => {
        if (insertInto) insertAtCaret(insertInto, emoji.native);
        if (handler.current) handler.current(emoji.native);
      },
    });
    const node = host.current;
    node.replaceChildren(picker);
    return () => node.replaceChildren();
  }, [insertInto, locale, theme]);
  return <div ref={host} data-testid="emoji-picker" />;
}
