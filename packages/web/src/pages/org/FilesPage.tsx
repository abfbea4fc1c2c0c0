// Files: upload through the signed-URL flow (reserve → PUT the bytes with progress → complete), list
// with the plan's quota, download through a fresh signed URL, delete.
import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { type ChangeEvent, useRef, useState } from 'react';
import { atLeast } from '../../lib/roles';
import { trpc } from '../../lib/trpc';
import { woopdi } from '../../lib/woopdi';
import { Empty, ErrorNote, formatBytes, formatDate, Loading, Page, ProgressBar } from '../../ui';
import { useOrg } from './OrgLayout';

/**
 * Sends the bytes to the signed URL. XMLHttpRequest rather than fetch: it reports upload progress.
 * This is storage, not the API: the API calls around it go through the SDK.
 */
function putFile(
  url: string,
  method: string,
  headers: Record<string, string>,
  file: File,
  onProgress: (fraction: number) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [name, value] of Object.entries(headers)) {
      // The browser sets these itself and refuses them from scripts.
      if (!['content-length', 'host'].includes(name.toLowerCase())) xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      let message = `The storage refused the file (HTTP ${xhr.status}).`;
      try {
        message = (JSON.parse(xhr.responseText) as { message?: string }).message ?? message;
      } catch {}
      reject(new Error(message));
    };
    xhr.onerror = () => reject(new Error('The upload was interrupted: check your connection and try again.'));
    xhr.send(file);
  });
}

function Upload() {
  const { organizationId } = useOrg();
  const queryClient = useQueryClient();
  const input = useRef<HTMLInputElement>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const upload = useMutation({
    mutationFn: async (file: File) => {
      setProgress(0);
      const ticket = await woopdi.api.assets.createUpload.mutate({
        organizationId,
        filename: file.name,
        contentType: file.type || 'application/octet-stream',
        size: file.size,
      });
      await putFile(ticket.uploadUrl, ticket.method, ticket.headers, file, setProgress);
      return woopdi.api.assets.completeUpload.mutate({ organizationId, assetId: ticket.assetId });
    },
    onSettled: () => {
      setProgress(null);
      if (input.current) input.current.value = '';
      return queryClient.invalidateQueries({ queryKey: trpc.assets.list.pathKey() });
    },
  });
  const choose = (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    if (file) upload.mutate(file);
  };
  return (
    <div className="card stack">
      {/* The input stays in the tab order (hidden only visually); its label is the visible button. */}
      <input
        id="upload"
        ref={input}
        type="file"
        className="visually-hidden file-input"
        onChange={choose}
        disabled={upload.isPending}
      />
      <label htmlFor="upload" className="button primary file-button">
        {upload.isPending ? 'Uploading…' : 'Upload a file'}
      </label>
      {progress !== null && <ProgressBar value={progress} label="Upload progress" />}
      <ErrorNote error={upload.error} />
      {upload.data && !upload.isPending && <p role="status">Uploaded {upload.data.filename}.</p>}
    </div>
  );
}

async function download(organizationId: string, assetId: string, filename: string) {
  const asset = await woopdi.api.assets.get.query({ organizationId, assetId });
  if (!asset.downloadUrl) throw new Error('The file is still being uploaded.');
  const link = document.createElement('a');
  link.href = asset.downloadUrl;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
}

export function FilesPage() {
  const { organizationId, actor } = useOrg();
  const queryClient = useQueryClient();
  const files = useInfiniteQuery(
    trpc.assets.list.infiniteQueryOptions(
      { organizationId, limit: 25 },
      { getNextPageParam: (page) => page.nextCursor ?? undefined },
    ),
  );
  const remove = useMutation({
    ...trpc.assets.delete.mutationOptions(),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.assets.list.pathKey() }),
  });
  const fetchFile = useMutation({
    mutationFn: (file: { id: string; filename: string }) => download(organizationId, file.id, file.filename),
  });
  const rows = files.data?.pages.flatMap((page) => page.assets) ?? [];
  const usage = files.data?.pages[0]?.usage;
  return (
    <Page title="Files">
      <Upload />
      {usage && (
        <div className="card quota">
          <p>
            Storage: {formatBytes(usage.usedBytes)} of {formatBytes(usage.quotaBytes)}
          </p>
          <ProgressBar
            value={usage.quotaBytes ? usage.usedBytes / usage.quotaBytes : 0}
            label="Storage used"
          />
        </div>
      )}
      <ErrorNote error={files.error ?? remove.error ?? fetchFile.error} />
      {files.isPending ? (
        <Loading />
      ) : rows.length === 0 ? (
        <Empty>No files yet.</Empty>
      ) : (
        <div className="card table-wrap">
          <table>
            <caption className="visually-hidden">Files</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Size</th>
                <th scope="col">Added</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((file) => (
                <tr key={file.id} data-file={file.filename}>
                  <td>
                    {file.filename}
                    <div className="muted">
                      {file.contentType}
                      {file.status === 'pending' && ' · uploading'}
                    </div>
                  </td>
                  <td>{formatBytes(file.size)}</td>
                  <td>{formatDate(file.createdAt)}</td>
                  <td className="actions">
                    {file.status === 'ready' && (
                      <button
                        type="button"
                        className="small"
                        aria-label={`Download ${file.filename}`}
                        onClick={() => fetchFile.mutate(file)}
                      >
                        Download
                      </button>
                    )}
                    {(file.uploadedBy === actor.userId || atLeast(actor.role, 'MODERATOR')) && (
                      <button
                        type="button"
                        className="small danger"
                        aria-label={`Delete ${file.filename}`}
                        onClick={() => {
                          if (window.confirm(`Delete ${file.filename}?`))
                            remove.mutate({ organizationId, assetId: file.id });
                        }}
                      >
                        Delete
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {files.hasNextPage && (
            <button
              type="button"
              onClick={() => void files.fetchNextPage()}
              disabled={files.isFetchingNextPage}
            >
              Show older files
            </button>
          )}
        </div>
      )}
    </Page>
  );
}
