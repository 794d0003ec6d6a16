import { Check, Copy } from "lucide-react";
import { useState } from "react";
import { Button } from "./button.tsx";

/** Copies `value` and says so to screen readers through a polite live region. */
export function CopyButton({ value, label = "Copy" }: { value: string; label?: string }) {
  const [announcement, setAnnouncement] = useState("");
  async function copy() {
    try {
      await navigator.clipboard.writeText(value);
      setAnnouncement("Copied to the clipboard.");
    } catch {
      setAnnouncement("Copying failed: select the text and copy it by hand.");
    }
    setTimeout(() => setAnnouncement(""), 3000);
  }
  const copied = announcement.startsWith("Copied");
  return (
    <>
      <Button variant="outline" size="sm" onClick={copy}>
        {copied ? <Check aria-hidden="true" /> : <Copy aria-hidden="true" />}
        {copied ? "Copied" : label}
      </Button>
      <span role="status" aria-live="polite" className="sr-only">
        {announcement}
      </span>
    </>
  );
}
