import { zodResolver } from "@hookform/resolvers/zod";
import { type FieldValues, type UseFormProps, useForm } from "react-hook-form";
import { z } from "zod";

/** react-hook-form validated by a zod schema (the same schemas the API checks with). */
export function useZodForm<S extends z.ZodType<FieldValues, FieldValues>>(
  schema: S,
  options: Omit<UseFormProps<z.input<S>, unknown, z.output<S>>, "resolver"> = {},
) {
  return useForm<z.input<S>, unknown, z.output<S>>({
    ...options,
    resolver: zodResolver(schema),
  });
}

/** Props that tie a control to its Field's hint and error. */
export function describedBy(id: string, error?: { message?: string }) {
  return {
    id,
    "aria-invalid": error ? true : undefined,
    "aria-describedby": error ? `${id}-error` : `${id}-hint`,
  } as const;
}

/** An optional text field checked by one of the API's schemas when it is not empty. */
export function optionalText(schema: z.ZodType) {
  return z.string().superRefine((text, ctx) => {
    if (text.trim() === "") return;
    const parsed = schema.safeParse(text.trim());
    if (!parsed.success) ctx.addIssue({ code: "custom", message: parsed.error.issues[0]!.message });
  });
}

export const optionalCount = z.string().regex(/^\d*$/, "Must be a whole number");
