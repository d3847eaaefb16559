import type { Role, Scope } from './authorize.js';

export interface Project {
  projectId: number;
  name: string;
  description: string;
  createdTime: number;
}

export const ACCOUNT_KINDS = ['user', 'robot', 'oidc'] as const;
export type AccountKind = (typeof ACCOUNT_KINDS)[number];

export interface Account {
  principalId: number;
  name: string;
  kind: AccountKind;
  passwordHash: string | null;
  isOwner: boolean;
  disabled: boolean;
  createdTime: number;
  failedLogins: number;
  lockedUntil: number;
}

export interface Membership {
  projectId: number;
  projectName: string;
  principalId: number;
  principalName: string;
  role: Role;
}

export const TOKEN_KINDS = ['api', 'session'] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

/** A token as listed: never its value, which exists only in the response that created it. */
export interface TokenInfo {
  tokenId: number;
  principalId: number;
  principalName: string;
  name: string;
  kind: TokenKind;
  scopes: Scope[];
  projectId: number | null;
  createdTime: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

/** What one token lookup loads: the token, its owner, and the owner's memberships. */
export interface TokenGrant {
  token: TokenInfo;
  account: Account;
  memberships: Array<{ projectId: number; role: Role }>;
}
