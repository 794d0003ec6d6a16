import { AlertTriangle } from "lucide-react";
import { useState } from "react";
import { Button } from "./ui/button.tsx";
import { CodeBlock } from "./ui/code-block.tsx";
import { Checkbox } from "./ui/controls.tsx";
import { CopyButton } from "./ui/copy-button.tsx";
import { ConfirmDialog, Dialog, DialogContent } from "./ui/dialog.tsx";

export function gatewayBaseUrl(): string {
  return `${window.location.protocol}//${window.location.hostname}:8787/v1`;
}

/**
 * The one time a secret is shown. It lives in the caller's state only (never the query cache or
 * the URL); closing asks for confirmation unless the person said they saved it.
 */
export function SecretReveal({
  secret,
  title,
  description,
  onClose,
  snippet = true,
}: {
  secret: string | null;
  title: string;
  description: string;
  onClose: () => void;
  snippet?: boolean;
}) {
  const [saved, setSaved] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const close = () => {
    setSaved(false);
    setConfirming(false);
    onClose();
  };
  const code = `import OpenAI from "openai";

const client = new OpenAI({
  baseURL: "${gatewayBaseUrl()}",
  apiKey: "${secret ?? ""}",
});

const reply = await client.chat.completions.create({
  model: "gpt-4o-mini",
  messages: [{ role: "user", content: "Hello!" }],
});`;
  return (
    <>
      <Dialog
        open={secret !== null}
        onOpenChange={(open) => {
          if (open) return;
          if (saved) close();
          else setConfirming(true);
        }}
      >
        <DialogContent title={title} description={description} className="max-w-2xl">
          <div className="flex items-start gap-2 rounded-md border border-warning/40 bg-warning/10 p-3 text-sm">
            <AlertTriangle className="mt-0.5 size-4 shrink-0 text-warning" aria-hidden="true" />
            <p>
              Copy it now and store it somewhere safe. osm keeps only a hash: you will not see this
              secret again.
            </p>
          </div>
          <div className="flex flex-wrap items-center gap-2">
            <code
              data-testid="secret"
              className="min-w-0 flex-1 break-all rounded-md bg-muted px-3 py-2 font-mono text-sm"
            >
              {secret}
            </code>
            {secret ? <CopyButton value={secret} label="Copy key" /> : null}
          </div>
          {snippet ? (
            <div className="grid gap-2">
              <div className="flex items-center justify-between">
                <p className="text-sm font-medium">OpenAI SDK</p>
                <CopyButton value={code} label="Copy snippet" />
              </div>
              <CodeBlock label="OpenAI SDK snippet" className="bg-foreground text-background">
                {code}
              </CodeBlock>
            </div>
          ) : null}
          <div className="flex flex-wrap items-center justify-between gap-3">
            <label className="flex items-center gap-2 text-sm" htmlFor="secret-saved">
              <Checkbox
                id="secret-saved"
                checked={saved}
                onCheckedChange={(v) => setSaved(v === true)}
              />
              I have saved this secret
            </label>
            <Button onClick={() => (saved ? close() : setConfirming(true))}>Done</Button>
          </div>
        </DialogContent>
      </Dialog>
      <ConfirmDialog
        open={confirming}
        onOpenChange={setConfirming}
        title="Close without saving?"
        description="You will not see this secret again. If you lose it, rotate the key to get a new one."
        confirmLabel="Close anyway"
        destructive
        onConfirm={close}
      />
    </>
  );
}
