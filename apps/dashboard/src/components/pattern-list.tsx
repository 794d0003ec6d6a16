import { matchesModelPattern } from "@osm/policy/evaluate";
import { modelPatternSchema } from "@osm/policy/schemas";
import { Plus, X } from "lucide-react";
import { useId, useState } from "react";
import { Button } from "./ui/button.tsx";
import { Input } from "./ui/input.tsx";

/** Patterns picked from the catalog or typed ("gpt-4o*"), with the catalog models they match. */
export function PatternList({
  label,
  values,
  onChange,
  options,
  disabled,
  validate = (v) => {
    const r = modelPatternSchema.safeParse(v);
    return r.success ? null : r.error.issues[0]!.message;
  },
  preview = true,
  placeholder = 'Pick or type, e.g. "gpt-4o*"',
}: {
  label: string;
  values: string[];
  onChange: (values: string[]) => void;
  options: string[];
  disabled?: boolean;
  validate?: (value: string) => string | null;
  preview?: boolean;
  placeholder?: string;
}) {
  const id = useId();
  const [draft, setDraft] = useState("");
  const [error, setError] = useState<string | null>(null);
  const add = () => {
    const v = draft.trim();
    if (!v) return;
    const problem = validate(v);
    if (problem) return setError(problem);
    if (!values.includes(v)) onChange([...values, v]);
    setDraft("");
    setError(null);
  };
  const matched = options.filter((m) => values.some((p) => matchesModelPattern(p, m)));
  return (
    <div className="grid gap-2">
      <label htmlFor={id} className="text-sm font-medium">
        {label}
      </label>
      <ul className="flex flex-wrap gap-1" aria-label={`${label}: chosen`}>
        {values.map((v) => (
          <li
            key={v}
            className="inline-flex items-center gap-1 rounded-md border bg-muted px-2 py-0.5 font-mono text-xs"
          >
            {v}
            {disabled ? null : (
              <button
                type="button"
                aria-label={`Remove ${v}`}
                className="rounded-sm hover:bg-card"
                onClick={() => onChange(values.filter((x) => x !== v))}
              >
                <X className="size-3" />
              </button>
            )}
          </li>
        ))}
        {values.length === 0 ? <li className="text-xs text-muted-foreground">None</li> : null}
      </ul>
      {disabled ? null : (
        <div className="flex gap-2">
          <Input
            id={id}
            list={`${id}-options`}
            placeholder={placeholder}
            value={draft}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? `${id}-error` : undefined}
            onChange={(e) => setDraft(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter") {
                e.preventDefault();
                add();
              }
            }}
          />
          <datalist id={`${id}-options`}>
            {options.map((o) => (
              <option key={o} value={o} />
            ))}
          </datalist>
          <Button variant="outline" onClick={add} aria-label={`Add to ${label}`}>
            <Plus />
          </Button>
        </div>
      )}
      {error ? (
        <p id={`${id}-error`} role="alert" className="text-xs text-destructive">
          {error}
        </p>
      ) : null}
      {preview && values.length > 0 ? (
        <p className="text-xs text-muted-foreground" aria-live="polite">
          Matches {matched.length} catalog model{matched.length === 1 ? "" : "s"}
          {matched.length
            ? `: ${matched.slice(0, 12).join(", ")}${matched.length > 12 ? ", …" : ""}`
            : ""}
        </p>
      ) : null}
    </div>
  );
}
