import { Option, type Command } from 'commander';
import { CONFIG_ENV, kebab, SETTINGS, type SettingName } from '../daemon/config.js';

/**
 * The on/off settings: those whose default is true or false. `--tls` alone means true, as a
 * switch does everywhere else; `--tls=false` and `--tls false` still work, and so does the
 * environment variable. Derived from the defaults so a new switch in SETTINGS gets the bare form
 * without a second list to keep in step.
 */
export const SWITCHES: ReadonlySet<SettingName> = new Set(
  (Object.entries(SETTINGS) as [SettingName, readonly [string, string, string]][]).filter(([, [, , def]]) => def === 'true' || def === 'false').map(([name]) => name),
);

/** Adds one flag per daemon setting; each names its environment variable in --help. */
export function addRunFlags(cmd: Command): Command {
  // Not a setting: where more settings come from (see readSettingsFile in src/daemon/config.ts).
  cmd.option('--config <file>', `settings file (YAML, the settings below by name in camelCase; flags and environment variables win over it) [env ${CONFIG_ENV}]`);
  for (const [name, [envName, help, def]] of Object.entries(SETTINGS) as [SettingName, readonly [string, string, string]][]) {
    const text = `${help} [env ${envName}; default ${def || 'unset'}]`;
    // The value stays a string, as the other flags' values are: resolveDaemonConfig parses
    // flags and environment variables alike.
    if (SWITCHES.has(name)) cmd.addOption(new Option(`--${kebab(name)} [true|false]`, text).preset('true'));
    else cmd.option(`--${kebab(name)} <value>`, text);
  }
  return cmd;
}
