import { z } from 'zod';
import { duration, formatDuration, parseDuration } from '../config/duration.js';
import { ACCOUNT_CHANGES, type FraudEvent } from '../events/types.js';
import { humanDuration } from '../format/human.js';
import { round } from '../windows/baseline.js';
import { defineDetector, SEVERITY_RANK, type Detector, type Finding } from './types.js';

/**
 * Risky logins held per account. An attacker producing more risky logins than this within the
 * window pushes out the oldest, but each of those logins has raised its own alert already.
 */
const MAX_RISKY_LOGINS = 16;

/** Detectors whose finding on a login makes it risky. All run before account_takeover in the registry. */
const SIGNALS = ['impossible_travel', 'geo_surge', 'brute_force', 'unfamiliar_location', 'login_risk'] as const;

const options = z.strictObject({
  /** How long after a risky login a sensitive account change from its device or address counts. Default 1h. */
  window: duration('1m', '24h').default('1h'),
  /** Account changes that complete a takeover (`profile` is cosmetic). Default email, password, payment, phone. */
  changes: z.array(z.enum(ACCOUNT_CHANGES)).min(1).default(['email', 'password', 'payment', 'phone']),
  /**
   * Detectors whose finding on a successful login makes it risky; brute_force counts only when
   * critical (a success after a burst of failures), login_risk from `loginRiskSeverity`. Default all five.
   */
  signals: z.array(z.enum(SIGNALS)).min(1).default([...SIGNALS]),
  /**
   * The login_risk severity from which a scored login is risky. Default high: a medium score is
   * an unusual login, common enough among owners that a settings change after it is no takeover.
   */
  loginRiskSeverity: z.enum(['medium', 'high']).default('high'),
});

interface RiskyLogin {
  ts: number;
  eventId: string;
  /** Ids of the detectors that flagged the login, in registry order. */
  detectors: string[];
  ip: string;
  deviceId: string | null;
}

/** Risky logins within the window, oldest first, at most MAX_RISKY_LOGINS. */
interface State {
  risky: RiskyLogin[];
}

/**
 * account_takeover (composite): a login another detector found risky, then within the window a
 * change of credentials or payment details from that login's device or address: the attacker
 * locking the owner out. An update from elsewhere is the owner's, and does not count.
 */
export const accountTakeover = defineDetector({
  id: 'account_takeover',
  keyKind: 'account',
  defaultSeverity: 'critical',
  description: 'A risky login (impossible travel, geo surge, brute force success, unfamiliar country, high login risk) followed by a credential or payment change from its device or IP.',
  options,
  create(o): Detector<State> {
    const windowMs = parseDuration(o.window);
    const changes: ReadonlySet<string> = new Set(o.changes);
    const signals: ReadonlySet<string> = new Set(o.signals);

    const loginRiskRank = SEVERITY_RANK[o.loginRiskSeverity];
    const isRiskSignal = (f: Finding, accountId: string): boolean =>
      f.key === accountId &&
      signals.has(f.detector) &&
      (f.detector !== 'brute_force' || f.severity === 'critical') &&
      (f.detector !== 'login_risk' || SEVERITY_RANK[f.severity ?? 'medium'] >= loginRiskRank);

    return {
      id: 'account_takeover',
      keyKind: 'account',
      stateVersion: 1,
      retentionMs: windowMs,
      consumes: ['login', 'account_update'],
      keyOf(ev: FraudEvent) {
        if (ev.type === 'login') return ev.success ? ev.accountId : undefined;
        if (ev.type === 'account_update') return changes.has(ev.change) ? ev.accountId : undefined;
        return undefined;
      },
      onEvent(ev, state, ctx, emit) {
        if (ev.type === 'login') {
          const findings = ctx.findings;
          if (findings.length === 0) return state;
          let detectors: string[] | undefined;
          for (let i = 0; i < findings.length; i++) {
            const f = findings[i]!;
            if (!isRiskSignal(f, ev.accountId)) continue;
            detectors ??= [];
            if (!detectors.includes(f.detector)) detectors.push(f.detector);
          }
          if (detectors === undefined) return state;

          const risky = state?.risky ?? [];
          const newest = risky.length > 0 && risky[risky.length - 1]!.ts > ev.ts ? risky[risky.length - 1]!.ts : ev.ts;
          let expired = 0;
          while (expired < risky.length && risky[expired]!.ts < newest - windowMs) expired++;
          if (expired > 0) risky.splice(0, expired);
          if (ev.ts < newest - windowMs) return risky.length > 0 ? state : undefined;

          let at = risky.length;
          while (at > 0 && risky[at - 1]!.ts > ev.ts) at--;
          risky.splice(at, 0, { ts: ev.ts, eventId: ev.eventId, detectors, ip: ev.ip, deviceId: ev.deviceId ?? null });
          if (risky.length > MAX_RISKY_LOGINS) risky.splice(0, risky.length - MAX_RISKY_LOGINS);
          return state ?? { risky };
        }

        if (ev.type !== 'account_update' || state === undefined) return state;
        const risky = state.risky;
        let expired = 0;
        while (expired < risky.length && risky[expired]!.ts < ev.ts - windowMs) expired++;
        if (expired > 0) risky.splice(0, expired);

        // The most recent risky login before the change, on the same device or address.
        let match: RiskyLogin | undefined;
        let sameDevice = false;
        let sameIp = false;
        for (let i = risky.length - 1; i >= 0; i--) {
          const r = risky[i]!;
          if (r.ts > ev.ts) continue;
          sameDevice = ev.deviceId !== undefined && r.deviceId === ev.deviceId;
          sameIp = ev.ip !== undefined && r.ip === ev.ip;
          if (sameDevice || sameIp) {
            match = r;
            break;
          }
        }
        if (match !== undefined) {
          const minutes = (ev.ts - match.ts) / 60_000;
          const matchedOn = sameDevice && sameIp ? ['device', 'ip'] : sameDevice ? ['device'] : ['ip'];
          const origin = sameDevice ? `the same device ${match.deviceId}` : `the same address ${match.ip}`;
          emit({
            detector: 'account_takeover',
            key: ev.accountId,
            summary:
              `Likely takeover of account ${ev.accountId}: ${ev.change} changed from ${origin} ${humanDuration(ev.ts - match.ts)} after a login ` +
              `from ${match.ip} flagged by ${match.detectors.join(' and ')}.`,
            evidence: {
              riskyLogin: {
                detectors: match.detectors.slice(),
                at: new Date(match.ts).toISOString(),
                ip: match.ip,
                deviceId: match.deviceId,
              },
              update: {
                change: ev.change,
                at: new Date(ev.ts).toISOString(),
                ip: ev.ip ?? null,
                deviceId: ev.deviceId ?? null,
              },
              matchedOn,
              minutesBetween: round(minutes),
              window: formatDuration(windowMs),
            },
            eventIds: [match.eventId, ev.eventId],
          });
        }
        return risky.length > 0 ? state : undefined;
      },
    };
  },
});
