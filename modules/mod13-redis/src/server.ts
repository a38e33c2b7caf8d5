import { serve } from '@visitme/shared';
import { createApp } from './main.js';

serve(createApp);
