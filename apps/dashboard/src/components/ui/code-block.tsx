import type { ComponentProps } from "react";
import { cn } from "../../lib/utils.ts";

/**
 * A snippet that scrolls sideways on narrow screens: focusable so keyboard users can scroll it
 * too (axe: scrollable-region-focusable), labelled so the focus stop says what it is.
 */
export function CodeBlock({
  className,
  label,
  ...props
}: ComponentProps<"pre"> & { label: string }) {
  return (
    <section
      aria-label={label}
      // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region needs a focus stop.
      tabIndex={0}
      className={cn(
        "overflow-x-auto rounded-md focus-visible:outline-2 focus-visible:outline-ring",
        className,
      )}
    >
      <pre className="w-max p-3 text-left font-mono text-xs" {...props} />
    </section>
  );
}
