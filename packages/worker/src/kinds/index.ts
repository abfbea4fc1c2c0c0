import type { TaskKind } from '@woopdi/core';
import type { KindDefinition } from './define.js';
import { exampleStreaming } from './example-streaming.js';
import { generateImage } from './generate-image.js';
import { orgExport } from './org-export.js';

export type { KindDefinition, KindHandler, KindResult } from './define.js';
export { defineKind } from './define.js';
export { createGenerateImageKind, type GenerateImageOptions } from './generate-image.js';

/** Every kind of core's contract has a handler (a missing one is a compile error). */
export const kindDefinitions: { readonly [K in TaskKind]: KindDefinition<K> } = {
  example_streaming: exampleStreaming,
  org_export: orgExport,
  generate_image: generateImage,
};
