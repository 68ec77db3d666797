// The package ships JavaScript and a native addon only (onoff's binding for Linux epoll); the part we use.
declare module 'epoll' {
  export class Epoll {
    static readonly EPOLLIN: number;
    static readonly EPOLLOUT: number;
    static readonly EPOLLRDHUP: number;
    static readonly EPOLLPRI: number;
    static readonly EPOLLERR: number;
    static readonly EPOLLHUP: number;
    static readonly EPOLLET: number;
    static readonly EPOLLONESHOT: number;
    /** The callback runs on the event loop; the next epoll_wait waits for it to return (level-triggered is safe). */
    constructor(callback: (err: Error | null, fd: number, events: number) => void);
    add(fd: number, events: number): this;
    modify(fd: number, events: number): this;
    remove(fd: number): this;
    /** Deregisters everything; the instance cannot be used again. */
    close(): void;
  }
  /** CommonJS whose exports Node cannot list: an ES import sees only the default export. */
  const epoll: { Epoll: typeof Epoll };
  export default epoll;
}
