// PLACEHOLDER: being written; replaced before commit.
import { z } from 'zod';
import { defineDetector } from './types.js';

export const impossibleTravel = defineDetector({
  id: 'impossible_travel',
  keyKind: 'account',
  defaultSeverity: 'high',
  description: 'placeholder',
  options: z.strictObject({}),
  create() {
    return { id: 'impossible_travel', keyKind: 'account', stateVersion: 1, retentionMs: 0, keyOf: () => undefined, onEvent: (_e, s) => s };
  },
});
