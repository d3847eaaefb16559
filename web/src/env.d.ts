declare module '*.css';

// The typed client sets `duplex` for streamed uploads (Node's fetch); browsers accept and ignore it.
interface RequestInit {
  duplex?: 'half';
}
