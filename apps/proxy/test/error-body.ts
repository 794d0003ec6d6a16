/** The contract's error body, as tests read it. */
export type ErrorBody = {
  error: { message: string; type: string; code: string; param: string | null };
  status: number;
  message: string;
};
