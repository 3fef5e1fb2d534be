// First, before anything loads http, express, Nest, kafkajs or undici: the instrumentations patch
// those modules only when they are required after the SDK has started.
import './telemetry';
import { runPipelineApp } from '@asana-stream/runtime';
import { ENRICHER_APP } from './enricher.module';

void runPipelineApp(ENRICHER_APP, { env: process.env, argv: process.argv });
