// Package dirsource is the export source for a local folder: every regular
// file below it, recursively, identified by its slash-separated path
// relative to the folder.
//
// The folder is on a host an intruder may reach, so the source archives
// exactly what it listed and nothing else:
//
//   - The listing walks folders by descriptor, never following a symbolic
//     link. Symbolic links and special files (named pipes, devices,
//     sockets) are offered with File.Skip set to the reason, so the run
//     records them in the manifest's skipped list. A subfolder that cannot
//     be read is offered with File.Err set: a failure in the manifest,
//     retried by the next run, while the rest of the folder is archived.
//   - Open reaches the file again component by component without following
//     any symbolic link and without blocking (O_NOFOLLOW|O_NONBLOCK), and
//     checks on the opened descriptor that it is a regular file with the
//     device, inode, size and modification time seen at listing. A file
//     swapped for a symbolic link, a named pipe or another file after the
//     listing is a failure of that file; a file that changes while it is
//     read fails its read. A file that was never listed is never opened.
//   - Files named in Options.Exclude (the signing key) are never offered,
//     under any name: a hard link to one is skipped too.
//
// With Options.FollowSymlinks, a symbolic link that resolves to a regular
// file inside the folder is offered under its own name with the target's
// content; one that leads outside the folder, to a folder or to a special
// file is skipped with the reason.
//
// Names that are not UTF-8 are recorded with export.EscapeName, so two
// such files never share an ID.
package dirsource
