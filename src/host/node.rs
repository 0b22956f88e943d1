//! One node's actor runtime: a tokio task and a bounded mailbox per actor, sleeping until the
//! next timer, effect execution, routing between local actors and to peers. The bookkeeping
//! around each actor (timers, replies, self-sends) is runtime-neutral and lives in
//! [`crate::actor::cell`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::clock::Clock;
use super::rng::actor_rng;
use super::transport::{self, Envelope, Frame, Hello};
use crate::actor::cell::{ActorCell, Cell, CellInput, CellOutput, Kind};
use crate::actor::client::{ActorClient, AskError};
use crate::actor::{Actor, ActorId, Addr, CallId, NodeId, Wire};
use crate::limits::{MAILBOX_CAPACITY, PEERS_LEARNED_MAX, PEER_SEND_QUEUE};
use crate::storage::persist::PersistJob;

/// How to start a node.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub node_id: NodeId,
    /// Where peers connect to this node (port 0 picks a free one; see [`Node::listen_addr`]).
    pub listen: SocketAddr,
    /// Known peers. More can be added later with [`NodeHandle::add_peer`].
    pub peers: BTreeMap<NodeId, SocketAddr>,
}

/// Why a request to a local actor got no answer: the gateway's [`AskError`], as the node
/// handle is its [`ActorClient`].

/// What an actor's mailbox carries.
pub(crate) enum Mail<M> {
    /// From another actor: a plain message, a call or the answer to one of ours.
    Actor {
        from: Addr,
        kind: Kind,
        msg: M,
    },
    Request {
        msg: M,
        reply: oneshot::Sender<M>,
    },
    Synced {
        token: u64,
        result: Result<(), String>,
    },
}

/// Routes messages to local mailboxes and peer links. Shared by all of a node's tasks.
pub(crate) struct Router<M> {
    node: NodeId,
    local: BTreeMap<ActorId, mpsc::Sender<Mail<M>>>,
    peers: Mutex<BTreeMap<NodeId, mpsc::Sender<Vec<u8>>>>,
    /// Each peer's link task, stopped when the peer is reached at a new address.
    links: Mutex<BTreeMap<NodeId, tokio::task::AbortHandle>>,
    /// The peers configured at start (or added by the host): never redirected by a hello.
    configured: Mutex<BTreeSet<NodeId>>,
    /// Peers learned from their links' hellos, and where they said they listen.
    learned: Mutex<BTreeMap<NodeId, SocketAddr>>,
    /// The first frame of every link this node opens.
    hello: Arc<[u8]>,
    /// Per peer: wakes its link out of a reconnect backoff when a peer connects (a restarted
    /// peer connects to us at once, so our link to it should not wait out a backoff of up to
    /// 2 s; which peer it is shows only with its first frame, so every link is woken).
    wakeups: Mutex<BTreeMap<NodeId, Arc<Notify>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl<M: Wire> Router<M> {
    pub(crate) fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let handle = tokio::spawn(task);
        let mut tasks = self.tasks.lock().expect("tasks lock");
        tasks.retain(|task| !task.is_finished());
        tasks.push(handle);
    }

    fn add_peer(&self, node: NodeId, addr: SocketAddr) {
        self.configured
            .lock()
            .expect("configured lock")
            .insert(node);
        self.link(node, addr);
    }

    /// Opens the link to `node` at `addr`, replacing the one it had.
    fn link(&self, node: NodeId, addr: SocketAddr) {
        let (tx, rx) = mpsc::channel(PEER_SEND_QUEUE);
        self.peers.lock().expect("peers lock").insert(node, tx);
        let wake = Arc::new(Notify::new());
        (self.wakeups.lock().expect("wakeups lock")).insert(node, wake.clone());
        let task = tokio::spawn(transport::peer_link(
            node,
            addr,
            self.hello.clone(),
            rx,
            wake,
        ));
        let old = (self.links.lock().expect("links lock")).insert(node, task.abort_handle());
        if let Some(old) = old {
            old.abort();
        }
        let mut tasks = self.tasks.lock().expect("tasks lock");
        tasks.retain(|task| !task.is_finished());
        tasks.push(task);
    }

    /// A link from `remote` said hello: a peer this node was not configured with (an
    /// observer of the quorum) is linked back to where it listens, and again when that changes
    /// (it restarted on another port). At most [`PEERS_LEARNED_MAX`] are learned.
    pub(crate) fn learn_peer(&self, hello: Hello, remote: SocketAddr) {
        let node = hello.node;
        if node == self.node
            || self
                .configured
                .lock()
                .expect("configured lock")
                .contains(&node)
        {
            return;
        }
        let addr = hello.reach(remote);
        let mut learned = self.learned.lock().expect("learned lock");
        match learned.get(&node) {
            Some(known) if *known == addr => return,
            None if learned.len() >= PEERS_LEARNED_MAX => {
                tracing::warn!(%node, %addr, "too many peers learned; this one is not answered");
                return;
            }
            _ => {}
        }
        tracing::info!(%node, %addr, "peer learned from its hello");
        learned.insert(node, addr);
        // Linked with `learned` still held: two hellos for one node read on two connections
        // at once must not leave `peers` naming the link the other one aborted.
        self.link(node, addr);
    }

    /// Delivers to a local actor, waiting for mailbox room (back-pressure, no loss). False if
    /// there is no such actor or it has stopped.
    async fn deliver_local(&self, from: Addr, to: ActorId, kind: Kind, msg: M) -> bool {
        match self.local.get(&to) {
            Some(mailbox) => {
                let delivered = mailbox.send(Mail::Actor { from, kind, msg }).await.is_ok();
                if !delivered {
                    tracing::debug!(?to, "local actor stopped; message dropped");
                }
                delivered
            }
            None => {
                tracing::warn!(?to, "no such local actor; message dropped");
                false
            }
        }
    }

    /// A peer connected: every link waiting out a reconnect backoff tries again now.
    pub(crate) fn peer_connected(&self) {
        for wake in self.wakeups.lock().expect("wakeups lock").values() {
            wake.notify_one();
        }
    }

    pub(crate) async fn deliver_inbound(&self, env: Envelope<M>) {
        if env.to.node != self.node {
            tracing::warn!(to = ?env.to, me = %self.node, "misrouted peer frame dropped");
            return;
        }
        // Undeliverable: the sender's call (if it is one) times out.
        self.deliver_local(env.from, env.to.actor, env.kind, env.msg)
            .await;
    }

    /// Sends to a local actor or queues for a peer. False if it was dropped here (no such
    /// actor, unknown peer, full link queue); true says nothing about a peer receiving it.
    async fn send(&self, from: Addr, to: Addr, kind: Kind, msg: M) -> bool {
        if to.node == self.node {
            return self.deliver_local(from, to.actor, kind, msg).await;
        }
        let link = self
            .peers
            .lock()
            .expect("peers lock")
            .get(&to.node)
            .cloned();
        let Some(link) = link else {
            tracing::warn!(peer = %to.node, "unknown peer; message dropped");
            return false;
        };
        match transport::encode_frame(&Frame::Message(Envelope {
            from,
            to,
            kind,
            msg,
        })) {
            // Full queue or closed link: drop, like a lossy network; peers retry.
            Ok(frame) => {
                let queued = link.try_send(frame).is_ok();
                if !queued {
                    tracing::debug!(peer = %to.node, "peer queue full or closed; message dropped");
                }
                queued
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot encode peer message");
                false
            }
        }
    }
}

/// A running node. Dropping it leaves the tasks running; call [`Node::shutdown`] to stop them.
pub struct Node<M> {
    router: Arc<Router<M>>,
    listen_addr: SocketAddr,
    /// The clock its actors read (the gateway reads the same one: quotas, mutes).
    clock: Clock,
}

impl<M: Wire> Node<M> {
    /// Binds the peer listener, then starts every actor (each gets [`crate::actor::Input::Start`] first).
    pub async fn start(
        config: NodeConfig,
        actors: Vec<(ActorId, NodeActor<M>)>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(config.listen).await?;
        let listen_addr = listener.local_addr()?;
        let mut mailboxes = Vec::new();
        let mut local = BTreeMap::new();
        for (id, actor) in actors {
            let (tx, rx) = mpsc::channel(MAILBOX_CAPACITY);
            local.insert(id, tx.clone());
            mailboxes.push((id, actor, tx, rx));
        }
        // A wildcard listener is reached at the address the link comes from (see `Hello`).
        let hello = Frame::<M>::Hello(Hello {
            node: config.node_id,
            listen: listen_addr,
        });
        let hello = transport::encode_frame(&hello).expect("a hello is small");
        let router = Arc::new(Router {
            node: config.node_id,
            local,
            peers: Mutex::new(BTreeMap::new()),
            links: Mutex::new(BTreeMap::new()),
            configured: Mutex::new(BTreeSet::new()),
            learned: Mutex::new(BTreeMap::new()),
            hello: hello.into(),
            wakeups: Mutex::new(BTreeMap::new()),
            tasks: Mutex::new(Vec::new()),
        });
        for (&node, &addr) in &config.peers {
            router.add_peer(node, addr);
        }
        router.spawn(transport::accept_loop(listener, router.clone()));
        let clock = Clock::start();
        for (id, actor, tx, rx) in mailboxes {
            let me = Addr {
                node: config.node_id,
                actor: id,
            };
            (actor.launch)(Launch {
                me,
                self_mailbox: tx.downgrade(),
                router: router.clone(),
                clock,
                mailbox: rx,
            });
        }
        Ok(Self {
            router,
            listen_addr,
            clock,
        })
    }

    /// The node's monotonic clock, the one its actors read.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    pub fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }

    pub fn handle(&self) -> NodeHandle<M> {
        NodeHandle {
            router: self.router.clone(),
        }
    }

    /// Stops every task of this node (actors, listener, peer links).
    pub fn shutdown(&self) {
        for task in self.router.tasks.lock().expect("tasks lock").drain(..) {
            task.abort();
        }
    }
}

/// A cheap, clonable way into a running node from host-side code (e.g. client connections).
pub struct NodeHandle<M> {
    router: Arc<Router<M>>,
}

impl<M> Clone for NodeHandle<M> {
    fn clone(&self) -> Self {
        Self {
            router: self.router.clone(),
        }
    }
}

impl<M: Wire> NodeHandle<M> {
    pub fn add_peer(&self, node: NodeId, addr: SocketAddr) {
        self.router.add_peer(node, addr);
    }

    /// Sends `msg` to a local actor as an [`crate::actor::Input::Request`] and waits for its reply.
    pub async fn request(&self, actor: ActorId, msg: M) -> Result<M, AskError> {
        self.submit(actor, msg).await?.await
    }

    /// Puts `msg` in the actor's mailbox now (waiting only for mailbox room) and returns a
    /// future of the reply. Requests submitted one after another reach the actor in that order
    /// even when their replies are awaited later — how a Kafka connection keeps pipelined
    /// produce requests ordered.
    pub async fn submit(&self, actor: ActorId, msg: M) -> Result<Reply<M>, AskError> {
        let mailbox = self
            .router
            .local
            .get(&actor)
            .ok_or(AskError::NoSuchActor(actor))?;
        let (reply, answer) = oneshot::channel();
        mailbox
            .send(Mail::Request { msg, reply })
            .await
            .map_err(|_| AskError::ActorGone(actor))?;
        Ok(Reply { answer, actor })
    }
}

/// The gateway asks the node's actors through the handle; a submitted request's reply is a
/// [`Reply`], a plain future (no box per request).
impl<M: Wire> ActorClient<M> for NodeHandle<M> {
    type Reply = Reply<M>;

    fn submit(
        &self,
        to: ActorId,
        msg: M,
    ) -> impl std::future::Future<Output = Result<Reply<M>, AskError>> + Send {
        NodeHandle::submit(self, to, msg)
    }
}

/// The reply to a request put in a local actor's mailbox by [`NodeHandle::submit`].
pub struct Reply<M> {
    answer: oneshot::Receiver<M>,
    actor: ActorId,
}

impl<M> std::future::Future for Reply<M> {
    type Output = Result<M, AskError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let actor = self.actor;
        std::pin::Pin::new(&mut self.answer)
            .poll(cx)
            .map(|answer| answer.map_err(|_| AskError::ActorGone(actor)))
    }
}

/// An actor ready to start on a node: [`NodeActor::new`] hides the actor's type, and so its
/// [`Actor::Timer`] type, so one node runs actors of different kinds. The task that runs it is
/// compiled for that actor type: handling an input is a direct call into its [`ActorCell`],
/// whose timers are keyed by the actor's own timer type.
pub struct NodeActor<M> {
    launch: Box<dyn FnOnce(Launch<M>) + Send>,
}

impl<M: Wire> NodeActor<M> {
    pub fn new<A: Actor<M>>(actor: A) -> Self {
        Self {
            launch: Box::new(move |launch: Launch<M>| {
                let router = launch.router.clone();
                let cell = ActorCell::new(launch.me, actor, actor_rng());
                let task = ActorTask {
                    me: launch.me,
                    cell,
                    unsent_calls: VecDeque::new(),
                    self_mailbox: launch.self_mailbox,
                    router: launch.router,
                    clock: launch.clock,
                };
                router.spawn(task.run(launch.mailbox));
            }),
        }
    }
}

/// What the node hands a [`NodeActor`] to start its task.
struct Launch<M> {
    me: Addr,
    self_mailbox: mpsc::WeakSender<Mail<M>>,
    router: Arc<Router<M>>,
    clock: Clock,
    mailbox: mpsc::Receiver<Mail<M>>,
}

/// How the host answers a host-side request: the requester awaits the other end.
type ReplyTo<M> = oneshot::Sender<M>;

/// The task that owns one actor: it waits for the next input (a due timer before mail), hands it
/// to the actor's [`ActorCell`] and executes what comes out. Every decision that needs no
/// runtime is the cell's.
struct ActorTask<M, A: Actor<M>> {
    me: Addr,
    cell: ActorCell<M, A, ReplyTo<M>>,
    /// Calls the router could not send: fed back to the cell before the next mail.
    unsent_calls: VecDeque<CallId>,
    /// To post sync completions back to ourselves without keeping our own mailbox open.
    self_mailbox: mpsc::WeakSender<Mail<M>>,
    router: Arc<Router<M>>,
    clock: Clock,
}

impl<M: Wire, A: Actor<M>> ActorTask<M, A> {
    async fn run(mut self, mut mailbox: mpsc::Receiver<Mail<M>>) {
        let mut outputs = Vec::new();
        let mut input = CellInput::Start;
        loop {
            self.cell.on(self.clock.now(), input, &mut outputs);
            for output in outputs.drain(..) {
                self.execute(output).await;
            }
            input = match self.unsent_calls.pop_front() {
                Some(call) => CellInput::Unreachable { call },
                None => match self.next_input(&mut mailbox).await {
                    Some(input) => input,
                    None => return,
                },
            };
        }
    }

    async fn next_input(
        &mut self,
        mailbox: &mut mpsc::Receiver<Mail<M>>,
    ) -> Option<CellInput<M, ReplyTo<M>>> {
        let deadline = self
            .cell
            .next_deadline_ns()
            .map(|mono_ns| self.clock.instant_at(mono_ns));
        // Cancel-safe: the cell disarms the timer only when it is handed `TimerDue`.
        let mail = tokio::select! {
            biased;
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                return Some(CellInput::TimerDue);
            }
            mail = mailbox.recv() => mail?,
        };
        Some(match mail {
            Mail::Actor { from, kind, msg } => CellInput::delivered(from, kind, msg),
            Mail::Request { msg, reply } => CellInput::Request { reply, msg },
            Mail::Synced { token, result } => CellInput::Synced { token, result },
        })
    }

    async fn execute(&mut self, output: CellOutput<M, ReplyTo<M>>) {
        match output {
            CellOutput::Send { to, msg } => {
                self.router.send(self.me, to, Kind::Msg, msg).await;
            }
            CellOutput::Reply { to, msg } => {
                let _ = to.send(msg); // the requester may have gone away; that's fine
            }
            CellOutput::Call { to, call, msg } => {
                if !self
                    .router
                    .send(self.me, to, Kind::Call { call }, msg)
                    .await
                {
                    self.unsent_calls.push_back(call);
                }
            }
            CellOutput::CallReply { to, call, msg } => {
                // Lost on the way: the caller's call times out.
                self.router
                    .send(self.me, to, Kind::Reply { call }, msg)
                    .await;
            }
            CellOutput::Persist { token, job } => self.start_persist(token, job),
        }
    }

    /// Runs the job in its own task so the actor keeps taking appends meanwhile; the result
    /// comes back through the mailbox as [`crate::actor::Input::Synced`].
    fn start_persist(&mut self, token: u64, job: PersistJob) {
        let self_mailbox = self.self_mailbox.clone();
        tokio::spawn(async move {
            let result = run_persist(job).await;
            if let Some(mailbox) = self_mailbox.upgrade() {
                let _ = mailbox.send(Mail::Synced { token, result }).await;
            }
        });
    }
}

/// Production: fsyncs on the blocking pool, each job timed (Kafka's `LogFlushRateAndTimeMs`).
#[cfg(not(madsim))]
async fn run_persist(job: PersistJob) -> Result<(), String> {
    let timed = move || {
        let started = std::time::Instant::now();
        let result = job.run();
        let took_ms = started.elapsed().as_secs_f64() * 1_000.0;
        crate::metrics::sample(crate::metrics::LOG_FLUSH_TIME_MS, took_ms);
        result
    };
    match tokio::task::spawn_blocking(timed).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(e) => Err(format!("sync task failed: {e}")),
    }
}

/// Simulation: storage is in memory and there are no OS threads, so run in the task itself.
/// The named fault points widen the windows a group commit has: a slow fsync (appends pile up
/// behind it), a slow write (modelled as a delay before the sync that follows it), a crash
/// before or between the job's ops, and a late report (jobs complete out of order).
#[cfg(madsim)]
async fn run_persist(job: PersistJob) -> Result<(), String> {
    use crate::faults::{points, FaultPoint};
    let appends = job
        .ops()
        .iter()
        .any(|op| matches!(op, crate::storage::persist::PersistOp::SyncFiles(_)));
    if appends && crate::fault_point!(FaultPoint::SlowWrite) {
        tokio::time::sleep(points::delay(FaultPoint::SlowWrite)).await;
    }
    if crate::fault_point!(FaultPoint::SlowFsync) {
        tokio::time::sleep(points::delay(FaultPoint::SlowFsync)).await;
    }
    for (at, op) in job.ops().iter().enumerate() {
        if crate::fault_point!(
            FaultPoint::CrashWhileFsyncInFlight,
            format!("before op {at} of {}: {}", job.ops().len(), op.kind())
        ) {
            // The disk has lost power; the harness kills this node next. Never report.
            return std::future::pending().await;
        }
        job.run_op(op).map_err(|e| e.to_string())?;
    }
    if crate::fault_point!(FaultPoint::ReorderPersistCompletion) {
        tokio::time::sleep(points::delay(FaultPoint::ReorderPersistCompletion)).await;
    }
    Ok(())
}
