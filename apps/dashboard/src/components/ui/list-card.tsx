import type { ReactNode } from "react";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "./card.tsx";
import { EmptyState, ErrorState, Loading } from "./states.tsx";

/** The part of a TanStack query result a list card reads. */
export type ListQuery<T> = {
  isPending: boolean;
  isError: boolean;
  error: unknown;
  data: T | undefined;
  refetch: () => unknown;
};

/**
 * A titled card around one query's list: its loading, error (with retry) and empty states, then
 * the list itself edge to edge (tables scroll inside it).
 */
export function ListCard<T>({
  title,
  description,
  actions,
  query,
  isEmpty,
  empty,
  emptyAction,
  before,
  className,
  children,
}: {
  title: string;
  description?: ReactNode;
  actions?: ReactNode;
  query: ListQuery<T>;
  isEmpty: (data: T) => boolean;
  /** The empty state's title, or a whole element. */
  empty: ReactNode;
  emptyAction?: ReactNode;
  /** Shown above the list in every state, e.g. the form that adds to it. */
  before?: ReactNode;
  className?: string;
  children: (data: T) => ReactNode;
}) {
  const { data } = query;
  return (
    <Card className={className}>
      <CardHeader>
        <div>
          <CardTitle>{title}</CardTitle>
          {description ? <CardDescription>{description}</CardDescription> : null}
        </div>
        {actions}
      </CardHeader>
      {before ? <CardContent>{before}</CardContent> : null}
      <CardContent className="p-0">
        {query.isError ? (
          <div className="p-4">
            <ErrorState error={query.error} retry={() => query.refetch()} />
          </div>
        ) : query.isPending || data === undefined ? (
          <Loading label={`Loading ${title.toLowerCase()}`} />
        ) : isEmpty(data) ? (
          <div className="p-4">
            {typeof empty === "string" ? <EmptyState title={empty} action={emptyAction} /> : empty}
          </div>
        ) : (
          children(data)
        )}
      </CardContent>
    </Card>
  );
}
