/** Wire shapes of the access API (/api/capstan/...). */
export interface WireProject {
  name: string;
  description: string;
  created_at: string;
  role?: string;
}

export interface WireAccount {
  name: string;
  kind: string;
  is_owner: boolean;
  disabled: boolean;
  created_at: string;
  locked_until: string | null;
}

export interface WireToken {
  token_id: string;
  name: string;
  kind: string;
  account: string;
  scopes: string[];
  project: string | null;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}

export interface WireSecret {
  name: string;
  key_id: string;
  created_at: string;
  updated_at: string;
  updated_by: string;
}

export interface WireAuditEvent {
  seq: number;
  time: number;
  actor: string;
  token_id: string | null;
  action: string;
  resource: string;
  project: string | null;
  outcome: string;
  summary: string;
  request_id: string | null;
  client_ip: string | null;
  prev_hash: string;
  hash: string;
}

export type WireAuditVerdict =
  | { ok: true; events: number; headSeq: number; headHash: string }
  | { ok: false; events: number; seq: number; problem: string; message: string };

export interface NewTokenRequest {
  name: string;
  scopes: string[];
  project?: string;
  expires_in_days?: number;
  account?: string;
}
