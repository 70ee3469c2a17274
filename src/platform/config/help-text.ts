import { sections, variables } from './schema.js';
import type { Setting } from './setting.js';

function line(name: string, setting: Setting<unknown>, width: number): string {
  const presence =
    setting.default !== undefined ? ` [default ${setting.default}]` : setting.required ? ' [required]' : '';
  const former = setting.deprecatedNames?.length
    ? ` (formerly ${setting.deprecatedNames.join(', ')}, still read)`
    : '';
  const kind = `<${setting.type}${setting.secret ? ', secret' : ''}>`;
  return `    ${name.padEnd(width)}  ${kind} ${setting.description}${presence}${former}`;
}

/** The settings part of `voxgate --help`: each module's settings with their type, default and former names. */
export function settingsHelp(): string[] {
  const width = Math.max(...[...variables.keys()].map((n) => n.length));
  return sections.flatMap((s) => [
    `  ${s.name}:`,
    ...[...variables]
      .filter(([, entry]) => entry.section === s.name)
      .map(([name, { setting }]) => line(name, setting, width)),
  ]);
}
