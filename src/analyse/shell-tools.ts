// Version control and orchestration tools, classified by subcommand: git, kubectl,
// docker/podman, systemctl.
import {
  classTable,
  dynamicArgs,
  hasOption,
  hostOf,
  operandAt,
  optionMatches,
  optionSet,
  optionValues,
  pathText,
  scanArgs,
  strictArgs,
  writePath,
  type Call,
} from './shell-args.js';
import { type Word } from './shell-words.js';
import { remoteHost } from './shell-net.js';

const GIT_GLOBAL_VALUES = optionSet('-C -c --git-dir --work-tree --namespace --super-prefix --config-env --exec-path --list-cmds');
/** `git -c` keys that only change presentation; any other key may name a program to run. */
const GIT_SAFE_CONFIG = /^(color\.|advice\.|user\.(name|email)$|core\.(quotepath|abbrev|autocrlf|safecrlf|longpaths)$|log\.|diff\.(renames|noprefix|mnemonicprefix|colormoved|algorithm|context|interhunkcontext)$|format\.pretty$|i18n\.|column\.|init\.defaultbranch$|safe\.directory$|status\.|branch\.sort$|tag\.sort$|blame\.|grep\.(linenumber|patterntype|extendedregexp|column|fullname)$|merge\.conflictstyle$|pull\.(rebase|ff)$|push\.default$|fetch\.prune$)/i;

const GIT = classTable({
  read: `status, log, diff, show, blame, annotate, shortlog, describe, rev-parse, rev-list, ls-files, ls-tree, cat-file,
    show-ref, show-branch, for-each-ref, name-rev, merge-base, grep, whatchanged, count-objects, fsck, version, help,
    var, check-ignore, check-attr, check-ref-format, cherry, range-diff, diff-tree, diff-files, diff-index, verify-commit,
    verify-tag, verify-pack, get-tar-commit-id, reflog show, stash list, stash show, worktree list, notes list, notes show,
    submodule status, submodule summary, remote show, remote get-url, config get, config list, bisect log, bisect view,
    archive, column, show-index`,
  write: `add, commit, checkout, switch, restore, reset, merge, rebase, cherry-pick, revert, rm, mv, clean, init, am,
    apply, stash, stash push, stash pop, stash apply, stash drop, stash clear, stash save, gc, prune, repack, notes add,
    notes remove, notes edit, worktree add, worktree remove, worktree prune, update-index, update-ref, replace,
    read-tree, write-tree, commit-tree, mktree, pack-refs, maintenance, sparse-checkout, format-patch, bundle, tag,
    branch, bisect, bisect start, bisect good, bisect bad, bisect reset, bisect skip, reflog expire, reflog delete,
    remote add, remote remove, remote rm, remote rename, remote set-url, remote set-head, remote set-branches,
    submodule init, submodule deinit, submodule add, submodule absorbgitdirs, symbolic-ref, hash-object, citool`,
  network: `push, pull, fetch, clone, ls-remote, submodule update, submodule sync, remote update, remote prune,
    send-email, request-pull, fetch-pack, send-pack`,
  execute: `filter-branch, filter-repo, bisect run, submodule foreach, difftool, mergetool, instaweb, daemon,
    http-backend, shell, upload-pack, receive-pack, config, credential, credential-store, credential-cache, gui, gitk`,
});
const GIT_SUB_VALUES = optionSet('-m -F -C -c -b -B -n --format --pretty -o --output -S -G --author --since --until --grep -U --unified -L --depth --shallow-since --template -O --open-files-in-pager -e -f -t -X --strategy --exec -x --onto --config --upload-pack --receive-pack -u --origin --branch --reference --separate-git-dir --message --file');

export function git(call: Call): void {
  const part = call.part;
  const args = call.args;
  let i = 0;
  // Global options come before the subcommand.
  for (; i < args.length; i++) {
    const a = args[i] as Word;
    const v = a.value;
    if (v === null || a.pattern) {
      dynamicArgs(call);
      return;
    }
    if (!v.startsWith('-')) break;
    const eq = v.indexOf('=');
    const name = v.startsWith('--') && eq > 0 ? v.slice(0, eq) : v;
    let value: string | null | undefined = v.startsWith('--') && eq > 0 ? v.slice(eq + 1) : undefined;
    if (value === undefined && GIT_GLOBAL_VALUES.has(name)) value = args[++i]?.value ?? null;
    if (name.startsWith('-c') && name.length > 2 && !name.startsWith('--')) value = name.slice(2);
    if (name === '-c' || (name.startsWith('-c') && !name.startsWith('--'))) {
      const key = (value ?? '').split('=')[0] ?? '';
      if (value === null || !GIT_SAFE_CONFIG.test(key)) part.raise('execute').flag('git_config');
    } else if (name === '--config-env' || name === '--exec-path') {
      if (name === '--config-env' || value !== undefined) part.raise('execute').flag('git_config');
    } else if (value === null && !['-C', '--git-dir', '--work-tree', '--namespace'].includes(name)) {
      // A directory from a variable is just a directory; anything else might be an option.
      dynamicArgs(call);
    }
  }
  const rest = args.slice(i);
  if (rest.length === 0) {
    part.raise('read');
    return;
  }
  const s = scanArgs(rest, GIT_SUB_VALUES);
  // `git rebase $x` with x=--exec=...: a word that may be an option makes any subcommand unknown.
  if (s.dynamic) dynamicArgs(call);
  const sub = rest[0]?.value ?? '';
  const second = s.operands[1]?.value ?? '';
  let cls = GIT[`${sub} ${second}`] ?? GIT[sub];
  let label = GIT[`${sub} ${second}`] !== undefined ? `${sub} ${second}` : sub;
  const ops = s.operands.slice(1);
  switch (sub) {
    case 'branch': {
      // Listing unless it creates, deletes, moves, copies or configures a branch.
      const changing = hasOption(s, '-d', '-D', '--delete', '-m', '-M', '--move', '-c', '-C', '--copy', '-f', '--force',
        '-u', '--set-upstream-to', '--unset-upstream', '--edit-description', '-t', '--track', '--no-track');
      const listing = hasOption(s, '-l', '--list', '-a', '--all', '-r', '--remotes', '--contains', '--no-contains', '--merged',
        '--no-merged', '--points-at', '--show-current');
      cls = !changing && (ops.length === 0 || listing) ? 'read' : 'write';
      break;
    }
    case 'tag': {
      const changing = hasOption(s, '-d', '--delete', '-a', '--annotate', '-s', '--sign', '-u', '--local-user', '-f', '--force',
        '-m', '--message', '-F', '--file', '-e', '--edit');
      const listing = hasOption(s, '-l', '--list', '-v', '--verify', '--contains', '--no-contains', '--merged', '--no-merged', '--points-at');
      cls = !changing && (ops.length === 0 || listing) ? 'read' : 'write';
      break;
    }
    case 'remote':
      if (ops.length === 0) cls = 'read';
      break;
    case 'stash':
      if (ops.length === 0) cls = 'write';
      break;
    case 'config': {
      const reading = hasOption(s, '--get', '--get-all', '--get-regexp', '--get-urlmatch', '--list', '-l', '--get-color',
        '--get-colorbool', '--show-origin', '--show-scope', '--name-only') || second === 'get' || second === 'list' ||
        (ops.length === 1 && !hasOption(s, '--unset', '--unset-all', '--add', '--replace-all', '--remove-section', '--rename-section', '-e', '--edit'));
      // Many keys name programs git runs later (core.pager, core.sshCommand, alias.*).
      const key = (second === 'set' ? s.operands[2]?.value : second) ?? '';
      cls = reading ? 'read' : GIT_SAFE_CONFIG.test(key) ? 'write' : 'execute';
      if (!reading) part.flag('git_config');
      label = 'config';
      break;
    }
    case 'bisect':
      if (second === 'run') cls = 'execute';
      break;
    case 'archive':
      if (hasOption(s, '--remote')) cls = 'network';
      break;
    default:
      break;
  }
  part.kind = `git ${label}`;
  if (cls === undefined) {
    part.unknown(`git ${sub} is not in the program table (it may be an alias)`);
    return;
  }
  part.raise(cls);
  const is = (o: { name: string }, ...names: string[]): boolean => names.some((n) => optionMatches(o.name, n));
  for (const o of s.options) {
    if (is(o, '-O', '--open-files-in-pager', '--ext-diff', '--textconv', '--exec', '--upload-pack', '--receive-pack') ||
      (o.name === '-x' && sub === 'rebase') || (o.name === '-u' && ['clone', 'fetch', 'pull', 'ls-remote', 'archive'].includes(sub))) {
      part.raise('execute').flag('program_exec');
    }
    if ((is(o, '--output') || (o.name === '-o' && sub !== 'commit' && sub !== 'clone')) && o.value !== undefined) writePath(call, o.value);
    if ((o.name === '-c' || is(o, '--config')) && sub === 'clone' && !GIT_SAFE_CONFIG.test((o.value?.value ?? '').split('=')[0] ?? '')) {
      part.raise('execute').flag('git_config');
    }
  }
  if (cls === 'network') {
    for (const w of ops) {
      const h = remoteHost(w.value) ?? (w.value !== null && /^[a-z]+:\/\//i.test(w.value) ? hostOf(w.value) : undefined);
      if (h !== undefined) part.host(h);
      // ext:: and fd:: transports run programs.
      if (w.value !== null && /^(ext|fd)::/i.test(w.value)) part.raise('execute').flag('program_exec');
    }
  }
}

const KUBECTL_VALUES = optionSet(`-n --namespace --context --cluster --user -s --server --token --as --as-group --as-uid
  --kubeconfig --request-timeout --certificate-authority --client-certificate --client-key --tls-server-name -v --v
  --cache-dir -l --selector --field-selector -o --output -f --filename -c --container --sort-by --template --since
  --since-time --tail --limit-bytes --timeout --type --image --replicas --port --from-literal --from-file --from-env-file
  -k --kustomize --for -L --label-columns --chunk-size --max-log-requests -p --patch --subresource --raw --resource-version
  --grace-period --cascade --dry-run --field-manager --overrides --env --target --profile --session-name --copy-to
  --context-name --namespace-name --show-labels-columns --prefix --pod-running-timeout --address --local-port --mode
  --protocol --name --revision --to-revision --wait-for --selector-key`);

const KUBECTL = classTable({
  read: `get, describe, logs, log, top, explain, api-resources, api-versions, version, cluster-info, diff, events, wait,
    auth can-i, auth whoami, config view, config get-contexts, config current-context, config get-clusters,
    config get-users, rollout status, rollout history, plugin list, kustomize, completion, options, help, alpha events`,
  write: `apply, create, patch, replace, edit, set, label, annotate, scale, autoscale, expose, delete, rollout,
    rollout restart, rollout undo, rollout pause, rollout resume, config use-context, config set-context, config set-cluster,
    config set, config unset, config delete-context, config delete-cluster, config delete-user, config rename-context`,
  execute: `exec, attach, port-forward, proxy, cp, debug, run, config set-credentials, plugin`,
  admin: `drain, cordon, uncordon, taint, certificate`,
  privilege: `certificate approve, certificate deny, auth reconcile, create role, create clusterrole, create rolebinding,
    create clusterrolebinding, create serviceaccount, create token`,
});

export function kubectl(call: Call): void {
  const part = call.part;
  const s = strictArgs(call, KUBECTL_VALUES);
  for (const o of s.options) {
    if (o.name === '--as' || o.name === '--as-group' || o.name === '--as-uid') part.raise('privilege').flag('impersonation');
    // A kubeconfig can name an exec credential plugin: a program kubectl runs.
    if (o.name === '--kubeconfig') part.raise('execute').flag('custom_config');
    if (o.name === '-s' || o.name === '--server') part.host(hostOf(o.value?.value ?? '') ?? '');
    if (o.name === '--raw') part.flag('raw_api');
  }
  const a = operandAt(s, 0) ?? '';
  const b = operandAt(s, 1) ?? '';
  const two = `${a} ${b}`;
  let cls = KUBECTL[two] ?? KUBECTL[a];
  const label = KUBECTL[two] !== undefined ? two : a;
  if (a === '') cls = 'read';
  if (a === 'kustomize' && hasOption(s, '--enable-alpha-plugins', '--enable-exec')) cls = 'execute';
  part.kind = `kubectl ${label}`.trim();
  if (cls === undefined) {
    part.unknown(`kubectl ${a} is not in the program table (it may be a plugin)`);
    return;
  }
  part.raise(cls);
  for (const f of optionValues(s, '-f', '--filename')) part.path(pathText(f), 'read');
  // Reading Secrets is still a read, but one that policies usually want to see.
  if (s.operands.slice(1).some((w) => /^(secrets?|secret\/.*)$/i.test(w.value ?? '') || /(^|,)secrets?($|,)/i.test(w.value ?? ''))) part.flag('secrets');
}

const DOCKER_VALUES = optionSet('-H --host --context -c --config -l --log-level --tlscacert --tlscert --tlskey -f --filter --format -n --tail --since --until -a --attach -e --env -v --volume -p --publish -w --workdir -u --user --name --network --entrypoint --mount -t --tag --platform --env-file --label -s --signal --time');
const DOCKER = classTable({
  read: `ps, images, inspect, logs, version, info, top, port, diff, events, history, search, stats, container ls,
    container list, container ps, container inspect, container logs, container top, container port, container diff,
    container stats, image ls, image list, image inspect, image history, volume ls, volume list, volume inspect,
    network ls, network list, network inspect, system df, system info, system events, context ls, context list,
    context show, context inspect, compose ps, compose ls, compose logs, compose config, compose images, compose top,
    compose version, compose port, manifest inspect, buildx ls, buildx inspect, node ls, service ls, service ps,
    service inspect, service logs, stack ls, stack ps, stack services, secret ls, config ls, plugin ls`,
  execute: `run, exec, start, restart, create, build, attach, compose, compose up, compose run, compose exec,
    compose build, compose start, compose restart, compose create, container run, container exec, container start,
    container restart, container create, container attach, buildx, buildx build, image build, plugin install,
    plugin enable, service create, stack deploy`,
  admin: `stop, kill, rm, rmi, pause, unpause, update, rename, prune, system prune, container stop, container kill,
    container rm, container prune, container pause, container unpause, container update, container rename, image rm,
    image prune, volume rm, volume prune, volume create, network rm, network prune, network create, network connect,
    network disconnect, compose down, compose stop, compose kill, compose rm, compose pause, service rm, stack rm,
    swarm, node, secret, config, plugin rm, plugin disable, context use, context create, context rm`,
  network: 'pull, push, login, logout, image pull, image push, compose pull, compose push, manifest push, trust',
  write: 'cp, commit, tag, save, load, import, export, image tag, image save, image load, image import, container cp, container commit, container export',
});

export function docker(call: Call): void {
  const part = call.part;
  const s = strictArgs(call, DOCKER_VALUES);
  for (const o of s.options) {
    if (o.name === '-H' || o.name === '--host') part.host(hostOf(o.value?.value ?? '') ?? '');
    if (o.name === '--config') part.raise('execute').flag('custom_config');
  }
  if (hasOption(s, '--privileged') || optionValues(s, '-v', '--volume').some((v) => (v.value ?? '').startsWith('/:')) ||
    optionValues(s, '--pid', '--network').some((v) => v.value === 'host')) {
    part.raise('admin').flag('privileged_container');
  }
  const a = operandAt(s, 0) ?? '';
  const b = operandAt(s, 1) ?? '';
  const two = `${a} ${b}`;
  const cls = a === '' ? 'read' : (DOCKER[two] ?? DOCKER[a]);
  part.kind = `${call.name} ${DOCKER[two] !== undefined ? two : a}`.trim();
  if (cls === undefined) {
    part.unknown(`${call.name} ${a} is not in the program table`);
    return;
  }
  part.raise(cls);
}

export const SYSTEMCTL = classTable({
  read: `status, show, cat, list-units, list-unit-files, list-timers, list-sockets, list-dependencies, list-jobs,
    list-machines, list-automounts, list-paths, is-active, is-enabled, is-failed, is-system-running, get-default,
    show-environment, help, version`,
  admin: `start, stop, restart, reload, try-restart, reload-or-restart, try-reload-or-restart, enable, disable, reenable,
    mask, unmask, daemon-reload, daemon-reexec, kill, reboot, poweroff, halt, suspend, hibernate, isolate, set-default,
    set-environment, unset-environment, import-environment, reset-failed, link, revert, preset, preset-all, add-wants,
    add-requires, set-property, clean, freeze, thaw, default, rescue, emergency, exit, switch-root, kexec, soft-reboot`,
  execute: 'edit',
});
