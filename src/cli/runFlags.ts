import type { Command } from 'commander';
import { kebab, SETTINGS } from '../daemon/config.js';

/** Adds one flag per daemon setting; each names its environment variable in --help. */
export function addRunFlags(cmd: Command): Command {
  for (const [name, [envName, help, def]] of Object.entries(SETTINGS)) {
    cmd.option(`--${kebab(name)} <value>`, `${help} [env ${envName}; default ${def || 'unset'}]`);
  }
  return cmd;
}

