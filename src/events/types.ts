/**
 * Event contract v1. One JSON object per line of a log, or per Kafka message value.
 * Fields are described in docs/contracts.md; unknown extra fields are ignored.
 */

export const EVENT_TYPES = ['login', 'playback', 'account_update'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const PLAYBACK_ACTIONS = ['start', 'heartbeat', 'stop'] as const;
export type PlaybackAction = (typeof PLAYBACK_ACTIONS)[number];

export const ACCOUNT_CHANGES = ['email', 'password', 'payment', 'phone', 'profile'] as const;
export type AccountChange = (typeof ACCOUNT_CHANGES)[number];

interface EventBase {
  readonly eventId: string;
  /** Event time in epoch milliseconds, parsed once at the edge. */
  readonly ts: number;
  readonly accountId: string;
  readonly ip: string | undefined;
  readonly deviceId: string | undefined;
  readonly userAgent: string | undefined;
}

export interface LoginEvent extends EventBase {
  readonly type: 'login';
  readonly ip: string;
  readonly success: boolean;
}

export interface PlaybackEvent extends EventBase {
  readonly type: 'playback';
  readonly ip: string;
  readonly deviceId: string;
  readonly sessionId: string;
  readonly action: PlaybackAction;
  readonly titleId: string | undefined;
}

export interface AccountUpdateEvent extends EventBase {
  readonly type: 'account_update';
  readonly change: AccountChange;
}

export type FraudEvent = LoginEvent | PlaybackEvent | AccountUpdateEvent;

/** Why a record was rejected. These names are metric labels and dead-letter headers: keep them stable. */
export const INVALID_REASONS = [
  'invalid_json',
  'not_an_object',
  'missing_field',
  'wrong_type',
  'bad_ts',
  'bad_ip',
  'unknown_type',
  'bad_value',
] as const;
export type InvalidReason = (typeof INVALID_REASONS)[number];

export type DecodeResult =
  | { readonly ok: true; readonly event: FraudEvent }
  | { readonly ok: false; readonly reason: InvalidReason; readonly message: string };
