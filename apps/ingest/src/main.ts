// First, before anything loads http, express, Nest, kafkajs or pg: the instrumentations patch
// those modules only when they are required after the SDK has started.
import './telemetry';
import { runPipelineApp } from '@asana-stream/runtime';
import { INGEST_APP } from './ingest.module';

void runPipelineApp(INGEST_APP, { env: process.env, argv: process.argv });
