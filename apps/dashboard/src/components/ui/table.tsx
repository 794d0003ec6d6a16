import type { ComponentProps } from "react";
import { cn } from "../../lib/utils.ts";

export function Table({ className, ...props }: ComponentProps<"table">) {
  return (
    <div className="w-full overflow-x-auto">
      <table className={cn("w-full caption-bottom text-sm", className)} {...props} />
    </div>
  );
}
export const THead = (p: ComponentProps<"thead">) => (
  <thead
    {...p}
    className={cn("bg-muted/50 text-left text-xs text-muted-foreground", p.className)}
  />
);
export const TBody = (p: ComponentProps<"tbody">) => <tbody {...p} />;
export const Tr = (p: ComponentProps<"tr">) => (
  <tr {...p} className={cn("border-b last:border-0 hover:bg-muted/30", p.className)} />
);
export const Th = (p: ComponentProps<"th">) => (
  <th {...p} className={cn("h-9 px-3 font-medium whitespace-nowrap", p.className)} />
);
export const Td = (p: ComponentProps<"td">) => (
  <td {...p} className={cn("px-3 py-2 align-middle", p.className)} />
);
