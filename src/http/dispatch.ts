/** Sends one request through the app as if it came from outside (SCIM Bulk and root searches forward this way). */
export type Dispatch = (request: { method: string; url: string; headers: Record<string, string>; body?: unknown }) => Promise<{
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}>;
