import { budgetPeriodSchema, spendLimitSchema } from "@osm/policy/schemas";
import { useQueryClient } from "@tanstack/react-query";
import { ChevronDown } from "lucide-react";
import { useState } from "react";
import { toast } from "sonner";
import { z } from "zod";
import { describedBy, optionalCount, optionalText, useZodForm } from "../lib/forms.ts";
import { errorMessage, trpcClient, useTRPC } from "../lib/trpc.ts";
import { SecretReveal } from "./secret-reveal.tsx";
import { Button } from "./ui/button.tsx";
import { Dialog, DialogContent } from "./ui/dialog.tsx";
import { Field, FormError, Input, NativeSelect } from "./ui/input.tsx";

// The API's own spend-limit schema decides what a valid amount is; an empty field means none.
const optionalLimit = optionalText(spendLimitSchema);

const createSchema = z.object({
  label: z.string().trim().min(1, "Give the key a label").max(200),
  spendLimitUsd: optionalLimit,
  budgetPeriod: budgetPeriodSchema,
  expiresAt: z
    .string()
    .refine((v) => v === "" || new Date(v).getTime() > Date.now(), "Must be in the future"),
  allowModels: z.string(),
  requestsPerMinute: optionalCount,
});

export function CreateKeyDialog({
  projectId,
  open,
  onOpenChange,
}: {
  projectId: string;
  open: boolean;
  onOpenChange: (open: boolean) => void;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [secret, setSecret] = useState<string | null>(null);
  const [showPolicy, setShowPolicy] = useState(false);
  const form = useZodForm(createSchema, {
    defaultValues: {
      label: "",
      spendLimitUsd: "",
      budgetPeriod: "monthly",
      expiresAt: "",
      allowModels: "",
      requestsPerMinute: "",
    },
  });
  const errors = form.formState.errors;
  const submit = form.handleSubmit(async (v) => {
    const allow = v.allowModels.split(/[\s,]+/).filter(Boolean);
    const rpm = v.requestsPerMinute ? Number(v.requestsPerMinute) : undefined;
    try {
      // Called outside the query cache: the response carries the secret.
      const created = await trpcClient.keys.create.mutate({
        projectId,
        label: v.label,
        ...(v.spendLimitUsd.trim()
          ? { spendLimitUsd: v.spendLimitUsd.trim(), budgetPeriod: v.budgetPeriod }
          : {}),
        ...(v.expiresAt ? { expiresAt: new Date(v.expiresAt) } : {}),
        policy: {
          ...(allow.length ? { models: { allow } } : {}),
          ...(rpm ? { rateLimit: { requestsPerMinute: rpm } } : {}),
        },
      });
      await queryClient.invalidateQueries({ queryKey: trpc.keys.list.pathKey() });
      onOpenChange(false);
      form.reset();
      setSecret(created.secret);
      toast.success(`Key ${created.key.label} created.`);
    } catch (err) {
      form.setError("root", { message: errorMessage(err) });
    }
  });
  return (
    <>
      <Dialog open={open} onOpenChange={onOpenChange}>
        <DialogContent
          title="Create API key"
          description="Give it a label; limits and policy are optional and can change later."
        >
          <form onSubmit={submit} className="grid gap-4" noValidate>
            <Field id="key-label" label="Label" error={errors.label?.message}>
              <Input
                placeholder="e.g. backend-prod"
                {...describedBy("key-label", errors.label)}
                {...form.register("label")}
              />
            </Field>
            <div className="grid gap-4 sm:grid-cols-2">
              <Field
                id="key-limit"
                label="Spending limit (USD)"
                hint="Empty: no limit."
                error={errors.spendLimitUsd?.message}
              >
                <Input
                  inputMode="decimal"
                  placeholder="25.00"
                  {...describedBy("key-limit", errors.spendLimitUsd)}
                  {...form.register("spendLimitUsd")}
                />
              </Field>
              <Field id="key-period" label="Limit period">
                <NativeSelect id="key-period" {...form.register("budgetPeriod")}>
                  <option value="daily">Daily</option>
                  <option value="weekly">Weekly</option>
                  <option value="monthly">Monthly</option>
                  <option value="none">Lifetime</option>
                </NativeSelect>
              </Field>
            </div>
            <Field
              id="key-expires"
              label="Expires"
              hint="Optional; in your time zone."
              error={errors.expiresAt?.message}
            >
              <Input
                type="datetime-local"
                {...describedBy("key-expires", errors.expiresAt)}
                {...form.register("expiresAt")}
              />
            </Field>
            <div className="rounded-md border">
              <button
                type="button"
                className="flex w-full items-center justify-between px-3 py-2 text-sm font-medium"
                aria-expanded={showPolicy}
                aria-controls="create-policy"
                onClick={() => setShowPolicy((s) => !s)}
              >
                Policy (optional)
                <ChevronDown
                  className={showPolicy ? "size-4 rotate-180" : "size-4"}
                  aria-hidden="true"
                />
              </button>
              {showPolicy ? (
                <div id="create-policy" className="grid gap-3 border-t p-3">
                  <Field
                    id="key-allow"
                    label="Allowed models"
                    hint='Space- or comma-separated; "gpt-4o*" matches a prefix. Empty: every model.'
                  >
                    <Input
                      placeholder="gpt-4o-mini claude-3-*"
                      {...form.register("allowModels")}
                      id="key-allow"
                    />
                  </Field>
                  <Field
                    id="key-rpm"
                    label="Requests per minute"
                    error={errors.requestsPerMinute?.message}
                  >
                    <Input
                      inputMode="numeric"
                      {...describedBy("key-rpm", errors.requestsPerMinute)}
                      {...form.register("requestsPerMinute")}
                    />
                  </Field>
                  <p className="text-xs text-muted-foreground">
                    The full policy editor is on the key's page.
                  </p>
                </div>
              ) : null}
            </div>
            <FormError message={errors.root?.message} />
            <div className="flex justify-end gap-2">
              <Button variant="outline" onClick={() => onOpenChange(false)}>
                Cancel
              </Button>
              <Button type="submit" disabled={form.formState.isSubmitting}>
                Create key
              </Button>
            </div>
          </form>
        </DialogContent>
      </Dialog>
      <SecretReveal
        secret={secret}
        title="Your new API key"
        description="Use it as the OpenAI API key with the gateway's base URL."
        onClose={() => setSecret(null)}
      />
    </>
  );
}
