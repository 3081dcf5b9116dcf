// Programs that talk to other hosts: ssh, scp, sftp, rsync, curl, wget, nc, socat, httpie and
// simple probes. Hosts go into objects.hosts; options that run local programs (ProxyCommand,
// rsync -e, nc -e) are analysed as commands.
import {
  canonicalOption,
  dynamicArgs,
  hasOption,
  hostOf,
  optionSet,
  optionValues,
  pathText,
  scanArgs,
  stdinCode,
  strictArgs,
  writePath,
  type Call,
  type ProgramHandler,
  type ScannedArgs,
} from './shell-args.js';
import { staticWord, type Word } from './shell-words.js';

const SSH_VALUES = optionSet('-B -b -c -D -E -e -F -I -i -J -L -l -m -O -o -p -Q -R -S -W -w');

/** Options shared by ssh, scp, sftp and rsync -e that run local commands or load config. */
function sshOptions(call: Call, s: ScannedArgs): void {
  const part = call.part;
  for (const o of s.options) {
    const v = o.value?.value ?? '';
    if (o.name === '-F') part.unknown(`${call.name} -F reads a config file that can run local commands`).flag('custom_config');
    if (o.name === '-J') for (const h of v.split(',')) part.host(hostOf(h) ?? h);
    if (o.name === '-L' || o.name === '-R' || o.name === '-D' || o.name === '-W' || o.name === '-w') part.flag('port_forward');
    if (o.name === '-E' && o.value !== undefined) writePath(call, o.value);
    if (o.name === '-S' && call.name !== 'ssh' && o.value !== undefined) {
      // scp/sftp -S: the program used instead of ssh.
      call.run([o.value], { separate: true });
    }
    if (o.name === '-o') {
      const m = /^\s*([A-Za-z]+)\s*[= ]\s*(.*)$/s.exec(v);
      const key = m?.[1]?.toLowerCase() ?? '';
      const value = m?.[2] ?? '';
      if ((key === 'proxycommand' || key === 'localcommand' || key === 'knownhostscommand') && value.toLowerCase() !== 'none') {
        part.flag('program_exec');
        call.code(staticWord(value), { separate: true, flags: ['wrapper'] });
      }
      if (key === 'proxyjump') for (const h of value.split(',')) part.host(hostOf(h) ?? h);
      if (o.value?.value === null) part.unknown(`${call.name} -o value is not a constant`);
    }
  }
}

export function ssh(call: Call): void {
  const part = call.part.raise('network');
  const args = call.args;
  let s = scanArgs(args, SSH_VALUES, true);
  if (s.options.some((o) => o.value !== undefined && o.value.value === null)) dynamicArgs(call);
  // OpenSSH accepts more options right after the destination (`ssh host -p 22 cmd`).
  const destIndex = args.indexOf(s.operands[0] as Word);
  let cmdStart = destIndex + 1;
  if (destIndex >= 0) {
    let j = destIndex + 1;
    while (j < args.length && (args[j]?.value ?? '').startsWith('-') && args[j]?.value !== '--') {
      const more = scanArgs(args.slice(j, j + 2), SSH_VALUES, true);
      const used = more.options.length > 0 && more.options[more.options.length - 1]?.value !== undefined &&
        !(args[j]?.value ?? '').slice(2).length ? 2 : 1;
      s = { ...s, options: [...s.options, ...more.options.slice(0, used === 2 ? undefined : more.options.length)] };
      j += used;
    }
    if (args[j]?.value === '--') j++;
    cmdStart = j;
  }
  sshOptions(call, s);
  const dest = s.operands[0];
  if (dest === undefined) {
    part.unknown('ssh without a destination');
    return;
  }
  if (dest.value === null) {
    part.unknown('ssh destination is not a constant').flag('dynamic_args');
    return;
  }
  const host = hostOf(dest.value) ?? dest.value;
  part.host(host);
  const command = destIndex >= 0 ? args.slice(cmdStart) : [];
  if (command.length === 0) {
    // A remote shell reading commands from standard input.
    if (call.stdin !== undefined) {
      call.code(call.stdin, { flags: ['remote', 'wrapper', 'heredoc'], floor: 'network', hosts: [host] });
    } else {
      part.raise('execute').flag('remote_shell');
      stdinCode(call);
    }
    return;
  }
  // The remote side joins the words with spaces and runs them with the user's shell.
  const joined = command.every((c) => c.value !== null) ? staticWord(command.map((c) => c.value).join(' ')) : undefined;
  call.code(joined, { flags: ['remote', 'wrapper'], floor: 'network', hosts: [host] });
}

/** rsync -e COMMAND: the transport rsync runs (normally ssh, whose options still matter). */
function transport(call: Call, value: Word): void {
  if (value.value === null) {
    call.part.unknown('rsync transport is not a constant').flag('dynamic_command');
    return;
  }
  const words = value.value.split(/\s+/).filter((x) => x !== '').map(staticWord);
  const program = (words[0]?.value ?? '').replace(/^\/(usr\/)?bin\//, '');
  if (program === 'ssh' || program === 'rsh') {
    sshOptions(call, scanArgs(words.slice(1), SSH_VALUES));
  } else if (words.length > 0) {
    call.part.raise('execute').flag('program_exec');
    call.run(words, { separate: true, flags: ['wrapper'] });
  }
}

export function remoteHost(text: string | null): string | undefined {
  if (text === null) return undefined;
  if (/^[a-z]+:\/\//i.test(text)) return hostOf(text);
  // [user@]host:path, but not a local path containing a colon after a slash.
  const m = /^([^/:]+):/.exec(text);
  return m ? hostOf(m[1] as string) : undefined;
}

export function scp(call: Call): void {
  const part = call.part.raise('network');
  const s = strictArgs(call, optionSet('-c -D -F -i -J -l -o -P -S -X'));
  sshOptions(call, s);
  const ops = s.operands;
  for (let k = 0; k < ops.length; k++) {
    const w = ops[k] as Word;
    const host = remoteHost(w.value);
    if (host !== undefined) part.host(host);
    else if (k === ops.length - 1) writePath(call, w);
    else part.path(pathText(w), 'read');
  }
  if (ops.length > 0 && remoteHost(ops[ops.length - 1]?.value ?? null) !== undefined) part.flag('upload');
}

export function sftp(call: Call): void {
  const part = call.part.raise('network');
  const s = strictArgs(call, optionSet('-B -b -c -D -F -i -J -l -o -P -R -S -s -X'));
  sshOptions(call, s);
  if (hasOption(s, '-b')) part.unknown('sftp batch file commands can run local programs');
  if (call.stdin !== undefined || call.stdinPiped) part.unknown('sftp commands from standard input can run local programs');
  for (const w of s.operands) {
    const h = remoteHost(w.value) ?? hostOf(w.value ?? '');
    if (h !== undefined) part.host(h);
  }
}

export function rsync(call: Call): void {
  const part = call.part;
  const s = strictArgs(call, optionSet('-e --rsh --rsync-path -f --filter --exclude --include --exclude-from --include-from --files-from -T --temp-dir --log-file --partial-dir --backup-dir --suffix --chmod --chown --usermap --groupmap --password-file --port --address --bwlimit --timeout --contimeout -B --block-size --max-size --min-size --compare-dest --copy-dest --link-dest --write-batch --only-write-batch --read-batch --out-format --log-file-format --info --debug --sockopts --outbuf --iconv --checksum-choice --compress-choice --compress-level'));
  for (const o of s.options) {
    const v = o.value;
    if ((o.name === '-e' || o.name === '--rsh') && v !== undefined) transport(call, v);
    if (o.name === '--rsync-path' && v !== undefined) call.code(v, { separate: true, flags: ['remote', 'wrapper'], floor: 'network' });
    if ((o.name === '--log-file' || o.name === '--write-batch' || o.name === '--only-write-batch') && v !== undefined) writePath(call, v);
    if ((o.name === '--files-from' || o.name === '--exclude-from' || o.name === '--include-from' || o.name === '--password-file') && v !== undefined) {
      part.path(pathText(v), 'read');
    }
  }
  if (hasOption(s, '--delete', '--delete-before', '--delete-during', '--delete-after', '--delete-delay', '--delete-excluded', '--remove-source-files')) {
    part.flag('delete');
  }
  const ops = s.operands;
  let remote = false;
  for (let k = 0; k < ops.length; k++) {
    const w = ops[k] as Word;
    const host = w.value !== null && /^rsync:\/\//i.test(w.value) ? hostOf(w.value) : remoteHost(w.value);
    if (host !== undefined) {
      remote = true;
      part.host(host);
    } else if (k === ops.length - 1 && ops.length > 1) {
      writePath(call, w);
    } else {
      part.path(pathText(w), 'read');
    }
  }
  part.raise(remote ? 'network' : 'write');
}

const CURL_VALUES = optionSet(`-o --output -T --upload-file -d --data --data-binary --data-raw --data-urlencode --data-ascii
  --json -F --form --form-string -K --config -H --header -X --request -u --user -A --user-agent -e --referer -b --cookie
  -c --cookie-jar -D --dump-header --trace --trace-ascii --stderr -x --proxy -U --proxy-user -w --write-out -m --max-time
  --connect-timeout -r --range -C --continue-at -E --cert --key --cacert --capath --resolve --connect-to --interface
  --unix-socket --abstract-unix-socket --url -y --speed-time -Y --speed-limit -z --time-cond --retry --retry-delay
  --retry-max-time --max-filesize --limit-rate --libcurl --output-dir --oauth2-bearer --aws-sigv4 --request-target
  -Q --quote --mail-from --mail-rcpt --variable --expand-url --expand-data --cert-type --key-type --pass --ciphers
  --proto --proto-redir --max-redirs --dns-servers --doh-url --local-port --netrc-file -t --telnet-option --hostpubmd5`);

const CURL_LONG = [...CURL_VALUES].filter((n) => n.startsWith('--')).concat(['--remote-name', '--remote-name-all', '--remote-header-name']);

export function curl(call: Call): void {
  const part = call.part.raise('network');
  const s = strictArgs(call, CURL_VALUES);
  const urls: Word[] = [...s.operands, ...optionValues(s, '--url')];
  for (const o of s.options) {
    const v = o.value;
    switch (o.name.startsWith('--') ? (canonicalOption(o.name, CURL_LONG) ?? o.name) : o.name) {
      case '-o': case '--output': case '-c': case '--cookie-jar': case '-D': case '--dump-header': case '--trace':
      case '--trace-ascii': case '--stderr': case '--libcurl':
        if (v !== undefined) writePath(call, v);
        break;
      case '-O': case '--remote-name': case '--remote-name-all': case '-J': case '--remote-header-name':
        part.raise('write').flag('download');
        break;
      case '-K': case '--config':
        part.unknown('curl -K reads options from a file').flag('custom_config');
        break;
      case '-T': case '--upload-file': case '--netrc-file': case '-E': case '--cert': case '--key': case '-b': case '--cookie':
        if (v !== undefined && (o.name !== '-b' && o.name !== '--cookie' || !(v.value ?? '').includes('='))) {
          part.path(pathText(v), 'read');
          if (o.name === '-T' || o.name === '--upload-file') part.flag('upload');
        }
        break;
      case '-d': case '--data': case '--data-binary': case '--data-ascii': case '--data-urlencode': case '--json':
      case '-F': case '--form': {
        const t = v?.value ?? '';
        const at = /(?:^|=)[@<]([^;]+)/.exec(t);
        if (at !== null) part.path(at[1] as string, 'read').flag('upload');
        break;
      }
      case '--unix-socket': case '--abstract-unix-socket':
        if (v !== undefined) part.path(pathText(v), 'read').flag('unix_socket');
        break;
      default:
        break;
    }
  }
  for (const u of urls) {
    const t = u.value ?? '';
    if (/^file:/i.test(t)) part.path(t.replace(/^file:(\/\/)?/i, ''), 'read');
    const h = hostOf(t);
    if (h !== undefined) part.host(h);
  }
}

const WGET_VALUES = optionSet(`-O --output-document -o --output-file -a --append-output -P --directory-prefix -i --input-file
  --post-file --body-file --post-data --body-data -e --execute --use-askpass -U --user-agent --header --user --password
  --http-user --http-password -t --tries -T --timeout -w --wait -Q --quota -l --level -A --accept -R --reject -D --domains
  --method --limit-rate --load-cookies --save-cookies --ca-certificate --certificate --private-key -B --base
  --default-page --referer`);

const WGET_LONG = [...WGET_VALUES].filter((n) => n.startsWith('--'));

export function wget(call: Call): void {
  const part = call.part.raise('network');
  const s = strictArgs(call, WGET_VALUES);
  let output = false;
  for (const o of s.options) {
    const v = o.value;
    switch (o.name.startsWith('--') ? (canonicalOption(o.name, WGET_LONG) ?? o.name) : o.name) {
      case '-O': case '--output-document':
        output = true;
        if (v !== undefined) writePath(call, v);
        break;
      case '-o': case '--output-file': case '-a': case '--append-output': case '-P': case '--directory-prefix': case '--save-cookies':
        if (v !== undefined) writePath(call, v);
        break;
      case '-i': case '--input-file': case '--post-file': case '--body-file': case '--load-cookies':
        if (v !== undefined) part.path(pathText(v), 'read');
        if (o.name === '--post-file' || o.name === '--body-file') part.flag('upload');
        break;
      case '-e': case '--execute':
        part.unknown('wget -e runs a wgetrc command').flag('custom_config');
        break;
      case '--use-askpass':
        part.raise('execute').flag('program_exec');
        break;
      default:
        break;
    }
  }
  if (!output && !hasOption(s, '--spider')) part.raise('write').flag('download');
  for (const u of s.operands) {
    const h = hostOf(u.value ?? '');
    if (h !== undefined) part.host(h);
  }
}

export function netcat(call: Call): void {
  const part = call.part.raise('network');
  const s = strictArgs(call, optionSet('-e -c --exec --sh-exec --lua-exec -p -s -w -i -q -o -x -X -P -O -I -T -V -W --output --proxy --source'));
  for (const o of s.options) {
    if ((o.name === '-e' || o.name === '--exec') && o.value !== undefined) {
      part.raise('execute').flag('program_exec');
      call.run([o.value], { separate: true });
    }
    if ((o.name === '-c' || o.name === '--sh-exec') && o.value !== undefined) {
      // The command talks to the network peer: a remote shell whatever it is.
      part.raise('execute').flag('program_exec');
      call.code(o.value, { separate: true, flags: ['wrapper'] });
    }
    if (o.name === '--lua-exec') part.raise('execute').flag('program_exec');
    if ((o.name === '-o' || o.name === '--output') && o.value !== undefined) writePath(call, o.value);
  }
  if (hasOption(s, '-l', '--listen')) part.flag('listen');
  for (const w of s.operands) if (w.value !== null && !/^\d+(-\d+)?$/.test(w.value)) part.host(hostOf(w.value) ?? w.value);
}

export function socat(call: Call): void {
  const part = call.part.raise('network');
  if (call.args.some((a) => a.value === null)) dynamicArgs(call);
  for (const a of call.args) {
    const v = a.value ?? '';
    if (/(^|[,!])\s*(EXEC|SYSTEM)\s*:/i.test(v)) part.raise('execute').flag('program_exec');
    const m = /(?:^|[,!])\s*(?:TCP[46]?|UDP[46]?|TCP[46]?-CONNECT|UDP[46]?-SENDTO|OPENSSL|SSL|SCTP-CONNECT|PROXY)\s*:\s*([^:,]+):/i.exec(v);
    if (m) part.host((m[1] as string).toLowerCase());
    if (/(^|[,!])\s*(OPEN|CREATE|GOPEN|CREAT)\s*:/i.test(v)) part.raise('write');
    // File addresses: FILE:, OPEN:, GOPEN:, CREATE:, or a bare path.
    for (const f of v.matchAll(/(?:^|!!)\s*(FILE|OPEN|GOPEN|CREATE|CREAT)\s*:([^,!]+)/gi)) {
      part.path(f[2] as string, /^CREAT/i.test(f[1] as string) ? 'write' : 'read');
    }
    if (v.startsWith('/') && !v.includes(':')) part.path(v.split(',')[0] as string, 'read');
  }
}

export function hostsFromOperands(values = ''): ProgramHandler {
  const set = optionSet(values);
  return (call) => {
    call.part.raise('network');
    const s = strictArgs(call, set);
    for (const w of s.operands) {
      const v = (w.value ?? '').replace(/^@/, '');
      const h = hostOf(v);
      if (h !== undefined && /[.:]|^localhost$/.test(h)) call.part.host(h);
    }
  };
}

export function httpie(call: Call): void {
  const part = call.part.raise('network');
  const s = strictArgs(call, optionSet('-o --output -a --auth -A --auth-type --session --session-read-only --cert --cert-key --verify --timeout -p --print --proxy'));
  for (const o of optionValues(s, '-o', '--output')) writePath(call, o);
  if (hasOption(s, '-d', '--download')) part.raise('write').flag('download');
  for (const w of s.operands) {
    const v = w.value ?? '';
    if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(v) || /^[\w.-]+(:\d+)?(\/|$)/.test(v) && !/[=:@]=?/.test(v.replace(/^[\w.-]+:\d+/, ''))) {
      const h = hostOf(v);
      if (h !== undefined) part.host(h);
    } else {
      const at = /^[^=]*=?@(.+)$/.exec(v);
      if (at) part.path(at[1] as string, 'read').flag('upload');
    }
  }
}
