import { z } from 'zod';
import { duration, formatDuration, parseDuration } from '../config/duration.js';
import type { FraudEvent, PlaybackEvent } from '../events/types.js';
import { humanCount } from '../format/human.js';
import { defineDetector, type Detector, type Emit } from './types.js';

const options = z.strictObject({
  /** Distinct devices streaming at once that the account is allowed; one more raises an alert. Default 4. */
  maxStreams: z.number().int().min(1).max(100).default(4),
  /** A session without a heartbeat (or start) for this long is over. Default 15m. */
  sessionTimeout: duration('1m', '6h').default('15m'),
});

/** Sessions remembered per account, evicting the least recently active: bounded when an account is resold to many viewers. */
const SESSION_CAP = 32;

/** One playback session, as plain JSON data. */
interface Session {
  sessionId: string;
  deviceId: string;
  ip: string;
  /** The event that opened the session (its start, or the first heartbeat seen of it). */
  eventId: string;
  start: number;
  /** Latest start or heartbeat. */
  last: number;
  /**
   * Stop time, 0 while open. A stopped session stays one timeout longer (while other sessions
   * are open), so that a heartbeat arriving late, after its stop, cannot open it again.
   */
  end: number;
}

/** Sessions seen within the timeout, in no particular order; at most 32. */
type State = Session[];

/**
 * concurrent_streams: more than `maxStreams` devices streaming on one account at the same time.
 *
 * A session is active from its start until its stop, or until `sessionTimeout` passes without a
 * heartbeat. Devices, not sessions, are counted: a device that restarts its stream opens a new
 * session each time, but it is one screen. A heartbeat of a session never seen started (its
 * start is older than the state, which expired or was lost) proves the session is running, so
 * it opens the session at the heartbeat: it counts like any other, once, under its sessionId.
 */
export const concurrentStreams = defineDetector({
  id: 'concurrent_streams',
  keyKind: 'account',
  defaultSeverity: 'high',
  description: 'More than N distinct devices streaming on one account at the same time.',
  options,
  create(o): Detector<State> {
    const timeoutMs = parseDuration(o.sessionTimeout);
    const maxStreams = o.maxStreams;
    /** Reused across events for the distinct-device count (never escapes an onEvent call). */
    const devices: string[] = [];

    function isActive(s: Session, t: number): boolean {
      if (s.start > t) return false;
      return s.end !== 0 ? t < s.end : t - s.last < timeoutMs;
    }

    function evict(sessions: State, t: number): void {
      for (let i = sessions.length - 1; i >= 0; i--) {
        const s = sessions[i]!;
        if ((s.end !== 0 ? s.end : s.last) + timeoutMs <= t) sessions.splice(i, 1);
      }
    }

    function open(sessions: State, ev: PlaybackEvent): void {
      sessions.push({ sessionId: ev.sessionId, deviceId: ev.deviceId, ip: ev.ip, eventId: ev.eventId, start: ev.ts, last: ev.ts, end: 0 });
      if (sessions.length > SESSION_CAP) {
        let oldest = 0;
        for (let i = 1; i < sessions.length; i++) {
          const s = sessions[i]!;
          const o = sessions[oldest]!;
          if ((s.end !== 0 ? s.end : s.last) < (o.end !== 0 ? o.end : o.last)) oldest = i;
        }
        sessions.splice(oldest, 1);
      }
    }

    function judge(sessions: State, ev: PlaybackEvent, emit: Emit): void {
      const t = ev.ts;
      devices.length = 0;
      for (const s of sessions) if (isActive(s, t) && !devices.includes(s.deviceId)) devices.push(s.deviceId);
      if (devices.length <= maxStreams) return;

      const active: Session[] = [];
      for (const s of sessions) if (isActive(s, t)) active.push(s);
      active.sort((a, b) => a.start - b.start || (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0));
      const deviceList: string[] = [];
      const ips: string[] = [];
      const eventIds: string[] = [];
      for (const s of active) {
        if (!deviceList.includes(s.deviceId)) deviceList.push(s.deviceId);
        if (!ips.includes(s.ip)) ips.push(s.ip);
        if (s.eventId !== ev.eventId) eventIds.push(s.eventId);
      }
      eventIds.push(ev.eventId);
      emit({
        detector: 'concurrent_streams',
        key: ev.accountId,
        summary: `Account ${ev.accountId} is streaming on ${humanCount(deviceList.length)} devices at once (limit ${maxStreams}), ${humanCount(active.length)} sessions from ${humanCount(ips.length)} addresses.`,
        evidence: {
          count: deviceList.length,
          maxStreams,
          devices: deviceList,
          sessions: active.map((s) => s.sessionId),
          ips,
          sessionTimeout: formatDuration(timeoutMs),
        },
        eventIds,
      });
    }

    return {
      id: 'concurrent_streams',
      keyKind: 'account',
      stateVersion: 1,
      retentionMs: timeoutMs,
      consumes: ['playback'],
      keyOf: (ev: FraudEvent) => (ev.type === 'playback' ? ev.accountId : undefined),
      onEvent(ev, state, _ctx, emit) {
        if (ev.type !== 'playback') return state;
        const t = ev.ts;
        const sessions = state ?? [];
        evict(sessions, t);
        let s: Session | undefined;
        for (const x of sessions) {
          if (x.sessionId === ev.sessionId) {
            s = x;
            break;
          }
        }
        let opened = false;
        switch (ev.action) {
          case 'start':
            if (s === undefined) {
              open(sessions, ev);
              opened = true;
            } else if (s.end !== 0 && t >= s.end) {
              // A session id reused after its stop: a new viewing on possibly another device.
              s.deviceId = ev.deviceId;
              s.ip = ev.ip;
              s.eventId = ev.eventId;
              s.start = s.last = t;
              s.end = 0;
              opened = true;
            } else {
              if (t < s.start) s.start = t;
              if (t > s.last) s.last = t;
            }
            break;
          case 'heartbeat':
            if (s === undefined) {
              open(sessions, ev);
              opened = true;
            } else if (s.end === 0 || t < s.end) {
              if (t < s.start) s.start = t;
              if (t > s.last) s.last = t;
            }
            // A heartbeat after its session's stop is client noise: the stop stands.
            break;
          case 'stop':
            if (s !== undefined && (s.end === 0 || t < s.end)) {
              s.end = t;
              if (t > s.last) s.last = t;
            }
            break;
        }
        if (opened) judge(sessions, ev, emit);
        // Stopped sessions are kept only to block late heartbeats while others run; with none
        // open there is nothing to count against, and the account key may live on for days
        // (other detectors' retention), so the state goes now.
        for (const x of sessions) if (x.end === 0) return sessions;
        return undefined;
      },
    };
  },
});
